"""Map layers drawn from our own data (no external tiles)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from console_api.deps import SessionDep
from console_api.params import parse_bbox
from console_api.responses import FeatureCollection
from facilities.local_names import hospitals_geojson
from routing.map_layer import roads_geojson

router = APIRouter(prefix="/api/v1/map", tags=["map"])


@router.get("/roads", response_model=FeatureCollection,
            summary="Road network in a bounding box as GeoJSON, simplified per zoom")
async def roads(
    db_session: SessionDep,
    bbox: Annotated[str, Query(max_length=100, description="west,south,east,north")],
    zoom: Annotated[int, Query(ge=0, le=22)] = 15,
) -> dict[str, Any]:
    """Public: street geometry is OpenStreetMap data, the same for everyone."""
    return await roads_geojson(db_session=db_session, bbox=parse_bbox(bbox), zoom=zoom)


@router.get("/hospitals", response_model=FeatureCollection,
            summary="Hospitals in a bounding box as GeoJSON points, named in the reader's language")
async def hospitals(
    db_session: SessionDep,
    bbox: Annotated[str, Query(max_length=100, description="west,south,east,north")],
    lang: Annotated[str | None, Query(
        pattern=r"^[a-z]{2,3}$", description="the reader's language: name:<lang> where OSM has it"
    )] = None,
) -> dict[str, Any]:
    """Public, as the hospital directory is: each name is its OSM name:<lang>, else its name."""
    return await hospitals_geojson(db_session, bbox=parse_bbox(bbox), lang=lang)
