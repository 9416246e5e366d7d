"""Map layers drawn from our own data (no external tiles)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from console_api.deps import SessionDep
from data.errors import InvalidInput
from routing.map_layer import roads_geojson

router = APIRouter(prefix="/api/v1/map", tags=["map"])


def _bbox(value: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in value.split(","))
    except ValueError:
        raise InvalidInput("bbox must be west,south,east,north in degrees", field="bbox") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidInput("bbox must be west<east, south<north, on Earth", field="bbox")
    return west, south, east, north


@router.get("/roads", summary="Road network in a bounding box as GeoJSON, simplified per zoom")
async def roads(
    db_session: SessionDep,
    bbox: Annotated[str, Query(max_length=100, description="west,south,east,north")],
    zoom: Annotated[int, Query(ge=0, le=22)] = 15,
) -> dict[str, Any]:
    """Public: street geometry is OpenStreetMap data, the same for everyone."""
    return await roads_geojson(db_session=db_session, bbox=_bbox(bbox), zoom=zoom)
