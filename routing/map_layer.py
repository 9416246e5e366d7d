"""The region's roads as GeoJSON for the console map, simplified for the zoom it is drawn at."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: At most this many road pieces per answer; a whole-country view gets a thinned picture.
MAX_FEATURES = 20_000

_ROADS = text(
    """
    SELECT ST_AsGeoJSON(simple, 6) AS geometry, osm_way_id
    FROM (
        SELECT DISTINCT ON (LEAST(source, target), GREATEST(source, target))
               ST_Simplify(geom, :tolerance) AS simple, osm_way_id
        FROM road_edges
        WHERE geom && ST_MakeEnvelope(:west, :south, :east, :north, 4326)
          AND length_m >= :min_length
        ORDER BY LEAST(source, target), GREATEST(source, target)
    ) AS pieces
    WHERE simple IS NOT NULL AND NOT ST_IsEmpty(simple)
    LIMIT :limit
    """
)


def tolerance_for(zoom: int) -> float:
    """Half a screen pixel, in degrees, at this web-map zoom level."""
    return 0.5 * 360.0 / (256 * 2.0**zoom)


async def roads_geojson(
    *,
    db_session: AsyncSession,
    bbox: tuple[float, float, float, float],
    zoom: int,
    limit: int = MAX_FEATURES,
) -> dict[str, Any]:
    """
    Road pieces inside ``bbox`` as a GeoJSON FeatureCollection.

    Parameters
    ----------
    bbox : tuple of float
        ``(west, south, east, north)`` in degrees.
    zoom : int
        Web-map zoom: lines are simplified to half a pixel; tiny pieces are dropped far out.
    """
    west, south, east, north = bbox
    tolerance = tolerance_for(zoom)
    rows = await db_session.execute(
        _ROADS,
        {
            "west": west, "south": south, "east": east, "north": north,
            "tolerance": tolerance,
            # Below zoom 13 a road piece shorter than ~2 px is noise on screen.
            "min_length": 0.0 if zoom >= 13 else 4 * tolerance * 111_000,
            "limit": limit,
        },
    )
    features = [
        {"type": "Feature", "geometry": json.loads(geometry), "properties": {"way": way}}
        for geometry, way in rows
    ]
    return {"type": "FeatureCollection", "features": features, "truncated": len(features) >= limit}
