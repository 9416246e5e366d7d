"""Address search, reverse geocoding and region bounds, from the regions' own OSM data."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from console_api.deps import SessionDep
from console_api.params import parse_bbox, parse_lat_lng
from console_api.responses import FeatureCollection
from console_api.schemas.geocode import AddressSearch, RegionBounds, ReversePlace
from data.errors import InvalidInput
from geocoding import bounds, reverse, search, street_names

router = APIRouter(prefix="/api/v1", tags=["geocoding"])

Lat = Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)]
Lng = Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)]


@router.get("/geocode", response_model=AddressSearch, response_model_exclude_unset=True,
            summary="Search addresses, streets, intersections, places and POIs")
async def geocode(
    db_session: SessionDep,
    q: Annotated[str, Query(max_length=200, description="what the caller says")],
    region: Annotated[str | None, Query(max_length=64)] = None,
    near: Annotated[
        str | None, Query(max_length=60, description="lat,lng focus: the map centre or caller")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection ranked by match quality, then by distance to ``near``."""
    text = " ".join(q.split())
    if len(text) < 2:
        raise InvalidInput("type at least 2 characters", field="q", code="query_too_short")
    if "\x00" in text:
        raise InvalidInput("q must be text", field="q")
    focus = parse_lat_lng(near, field="near") if near else None
    hits = await search.search(db_session, query=text, region=region, near=focus, limit=limit)
    collection: dict[str, Any] = {
        "type": "FeatureCollection", "query": text,
        "features": [hit.as_feature() for hit in hits],
    }
    if not hits:
        collection["message"] = f"nothing matches {text!r}" + (
            f" in region {region}" if region else ""
        )
    return collection


@router.get("/geocode/reverse", response_model=ReversePlace, response_model_exclude_unset=True,
            summary="The address of a point, as a dispatcher reads it out")
async def geocode_reverse(db_session: SessionDep, lat: Lat, lng: Lng) -> dict[str, Any]:
    """The nearest address within 50 m, else the street between its cross streets, else the
    nearest named place with distance and bearing; ``label`` is null when nothing is near."""
    found = await reverse.reverse(db_session, lat=lat, lng=lng)
    if found is None:
        return {"label": None, "kind": None, "street": None, "distance_m": None,
                "message": "nothing named within 10 km"}
    return found.as_dict()


@router.get("/regions", response_model=list[RegionBounds],
            summary="Imported regions with their bounding box and centre")
async def regions(db_session: SessionDep) -> list[dict[str, Any]]:
    """Pages open centred on the region (and offer a picker when there are several)."""
    return await bounds.list_regions(db_session)


@router.get("/map/streets", response_model=FeatureCollection,
            summary="Street names (OSM name:<lang> else name) along the roads in a bounding box")
async def streets(
    db_session: SessionDep,
    bbox: Annotated[str, Query(max_length=100, description="west,south,east,north")],
    zoom: Annotated[int, Query(ge=0, le=22)] = 16,
    lang: Annotated[str | None, Query(
        pattern=r"^[a-z]{2,3}$", description="the reader's language: name:<lang> where OSM has it"
    )] = None,
) -> dict[str, Any]:
    """Public OSM data; empty below the zoom where a name fits along its street."""
    return await street_names.streets_geojson(
        db_session, bbox=parse_bbox(bbox), zoom=zoom, lang=lang
    )
