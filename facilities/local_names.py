"""Hospitals' OSM ``name:<lang>`` names, so the maps name them in the reader's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geoalchemy2.functions import ST_X, ST_Y, ST_Intersects, ST_MakeEnvelope
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from facilities.models import Hospital
from geocoding.extract import local_names_of

OSM_TYPES = {"n": "node", "w": "way", "r": "relation"}
#: More hospitals than any map view shows at once; a bound on the answer's size.
MAX_HOSPITALS = 500


def hospital_local_names(pbf_path: str | Path) -> dict[tuple[str, int], dict[str, str]]:
    """``{("way", 123): {"ur": "...", "es": "..."}}`` for each ``amenity=hospital`` of the
    extract that carries ``name:<lang>`` tags (2-3 letter codes, as for the street labels)."""
    import osmium
    from osmium.filter import TagFilter

    found: dict[tuple[str, int], dict[str, str]] = {}
    objects = osmium.FileProcessor(str(pbf_path)).with_filter(TagFilter(("amenity", "hospital")))
    for obj in objects:
        names = local_names_of({t.k: t.v for t in obj.tags})
        if names:
            found[(OSM_TYPES[obj.type_str()], int(obj.id))] = names
    return found


def name_in(hospital: Hospital, lang: str | None) -> str:
    """The hospital's ``name:<lang>`` when OSM has one, else its own name."""
    return ((hospital.local_names or {}).get(lang) if lang else None) or hospital.name


async def hospitals_geojson(
    db_session: AsyncSession, *, bbox: tuple[float, float, float, float], lang: str | None = None
) -> dict[str, Any]:
    """Hospitals inside ``bbox`` as GeoJSON points, each named in ``lang`` where OSM can."""
    west, south, east, north = bbox
    rows = await db_session.execute(
        select(Hospital, ST_X(Hospital.location), ST_Y(Hospital.location))
        .where(ST_Intersects(Hospital.location, ST_MakeEnvelope(west, south, east, north, 4326)))
        .order_by(Hospital.name, Hospital.id)
        .limit(MAX_HOSPITALS)
    )
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lng, lat]},
         "properties": {"id": str(h.id), "name": name_in(h, lang), "ed_status": h.ed_status,
                        "is_emergency_enabled": h.is_emergency_enabled}}
        for h, lng, lat in rows
    ]
    return {"type": "FeatureCollection", "features": features}
