"""Street names for the map, from the geocoder's street pieces (OSM ``name:<lang>`` else ``name``),
per bounding box."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: Below this zoom a street name does not fit along its street; the map shows none.
MIN_LABEL_ZOOM = 15
MAX_STREETS = 600

STREETS = text("""
SELECT COALESCE(local_names ->> CAST(:lang AS text), label) AS label,
       ST_AsGeoJSON(ST_Simplify(ST_LineMerge(ST_Intersection(lines, box)), :tolerance), 6)
           AS geometry
FROM geocode_entries,
     LATERAL (SELECT ST_MakeEnvelope(:west, :south, :east, :north, 4326) AS box) AS b
WHERE kind = 'street' AND lines && box
ORDER BY ST_Length(lines) DESC
LIMIT :limit
""")


async def streets_geojson(
    db_session: AsyncSession, *, bbox: tuple[float, float, float, float], zoom: int,
    lang: str | None = None,
) -> dict[str, Any]:
    """Named street pieces clipped to ``bbox``, longest first (``name`` in each feature: its
    ``name:<lang>`` when OSM has one, else its ``name``)."""
    if zoom < MIN_LABEL_ZOOM:
        return {"type": "FeatureCollection", "features": [], "min_zoom": MIN_LABEL_ZOOM}
    west, south, east, north = bbox
    rows = await db_session.execute(STREETS, {
        "west": west, "south": south, "east": east, "north": north,
        "tolerance": 0.5 * 360.0 / (256 * 2**zoom), "limit": MAX_STREETS, "lang": lang,
    })
    features = [
        {"type": "Feature", "geometry": json.loads(r.geometry), "properties": {"name": r.label}}
        for r in rows if r.geometry
    ]
    return {"type": "FeatureCollection", "features": features, "min_zoom": MIN_LABEL_ZOOM}
