"""Where each region is: its bounding box and centre, so a page opens on the operator's region."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: The box of the road area (an extract's own box may reach far beyond its city).
REGIONS = text("""
SELECT r.name,
       ST_XMin(b) AS west, ST_YMin(b) AS south, ST_XMax(b) AS east, ST_YMax(b) AS north,
       ST_X(ST_Centroid(r.area)) AS centre_lng, ST_Y(ST_Centroid(r.area)) AS centre_lat,
       r.node_count,
       (SELECT count(*) FROM hospitals h WHERE h.region = r.name) AS hospitals
FROM regions r
CROSS JOIN LATERAL (SELECT CAST(r.area AS box2d) AS b) AS bounds
ORDER BY r.name
""")


async def list_regions(db_session: AsyncSession) -> list[dict[str, Any]]:
    """Every imported region with ``bbox`` [west, south, east, north] and ``centre`` {lat, lng}."""
    rows = await db_session.execute(REGIONS)
    return [
        {
            "name": r.name,
            "bbox": [r.west, r.south, r.east, r.north],
            "centre": {"lat": r.centre_lat, "lng": r.centre_lng},
            "road_nodes": r.node_count,
            "hospitals": r.hospitals,
        }
        for r in rows
    ]


OUTSIDE_EVERY = text("""
SELECT EXISTS (SELECT 1 FROM regions)
   AND NOT EXISTS (
       SELECT 1 FROM regions r LEFT JOIN geocode_regions g ON g.region = r.name
       WHERE ST_Covers(r.area, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326))
          OR ST_Covers(g.bbox, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)))
""")


async def outside_every_region(db_session: AsyncSession, *, lat: float, lng: float) -> bool:
    """Whether regions are imported and none holds (lat, lng) in its road area or extract box
    (with no region at all there is nothing to be outside of)."""
    return bool(await db_session.scalar(OUTSIDE_EVERY, {"lat": lat, "lng": lng}))
