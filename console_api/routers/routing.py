"""Routes between two points and road closures."""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from console_api.deps import CurrentClaims, DestinationsDep, SyncEngineDep, actor_of
from console_api.params import parse_lat_lng
from console_api.responses import FeatureCollection
from data.base import utcnow
from data.errors import InvalidInput, NotFound
from dispatch import road_closures
from routing import isochrones

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])


class RouteView(BaseModel):
    """The fastest road route under the closures in force."""

    region: str
    eta_seconds: float
    distance_m: float
    geometry: dict[str, Any]
    origin_snap_m: float
    destination_snap_m: float


class GeoJsonGeometry(BaseModel):
    """A GeoJSON LineString or Polygon in WGS 84 (lng, lat)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["LineString", "Polygon", "MultiLineString", "MultiPolygon"]
    coordinates: list[Any] = Field(max_length=10_000)


class ClosureRequest(BaseModel):
    """Close a road stretch (a line) or an area (a polygon)."""

    model_config = ConfigDict(extra="forbid")

    geometry: GeoJsonGeometry
    reason: str = Field(min_length=1, max_length=500)
    expires_at: datetime | None = None
    duration_minutes: float | None = Field(default=None, gt=0, le=60 * 24 * 30)


class ClosureView(BaseModel):
    """A closure in force."""

    id: uuid.UUID
    region: str
    kind: str
    reason: str | None
    geometry: dict[str, Any]
    created_at: datetime
    expires_at: datetime | None
    edges_closed: int | None = None


@router.get("/route", response_model=RouteView, summary="Fastest road route between two points")
async def route(
    destinations: DestinationsDep,
    from_: Annotated[str, Query(alias="from", description="lat,lng")],
    to: Annotated[str, Query(description="lat,lng")],
) -> RouteView:
    """ETA, distance and the GeoJSON line; 422 when a point is outside, 404 when unreachable."""
    origin = parse_lat_lng(from_, field="from")
    target = parse_lat_lng(to, field="to")
    network = destinations.locate(*origin)
    if network is None:
        raise InvalidInput("from lies outside every service area", field="from",
                           code="outside_service_area")
    if not network.covers(*target):
        raise InvalidInput(f"to lies outside region {network.name}", field="to",
                           code="outside_service_area")
    found = await asyncio.to_thread(network.engine.route, origin, target)
    if found is None:
        raise NotFound("no road route between these points", code="unreachable")
    return RouteView(
        region=network.name,
        eta_seconds=round(found.eta_s, 1),
        distance_m=round(found.distance_m, 1),
        geometry=found.geometry,
        origin_snap_m=round(found.origin.distance_m, 1),
        destination_snap_m=round(found.destination.distance_m, 1),
    )


@router.get(
    "/isochrone",
    summary="Areas reachable within N minutes from (or to) a point",
    response_model=FeatureCollection,
)
async def isochrone(
    destinations: DestinationsDep,
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
    lng: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)],
    minutes: Annotated[str, Query(description="comma-separated, e.g. 4,8,15", max_length=60)] = (
        "4,8,15"
    ),
    direction: Literal["from", "to"] = "from",
) -> dict[str, Any]:
    """GeoJSON FeatureCollection, one (Multi)Polygon per band with holes where unreachable."""
    try:
        bands = [float(m) for m in minutes.split(",") if m.strip()]
    except ValueError:
        bands = []
    if not bands or not all(0 < m <= isochrones.MAX_MINUTES for m in bands):
        raise InvalidInput(
            f"minutes: 1 to {isochrones.MAX_BANDS} numbers in (0, {isochrones.MAX_MINUTES:g}]",
            field="minutes",
        )
    network = destinations.locate(lat, lng)
    if network is None:
        raise InvalidInput("the point lies outside every service area", field="lat",
                           code="outside_service_area")
    try:
        found = await asyncio.to_thread(
            isochrones.isochrones, network.engine, lat, lng, bands, direction=direction
        )
    except ValueError as exc:
        raise InvalidInput(str(exc), field="minutes") from exc
    found["region"] = network.name
    return found


def _all_finite(coordinates: list[Any]) -> bool:
    """Whether every leaf of the nested coordinate lists is a finite JSON number (RFC 7946), so
    "NaN" strings never reach shapely; walked without recursion, the nesting being the caller's."""
    stack: list[Any] = [coordinates]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            return False
    return True


def _geometry(body: GeoJsonGeometry):
    if not _all_finite(body.coordinates):
        raise InvalidInput("coordinates must be finite numbers", field="geometry")
    try:
        geometry = shapely.geometry.shape(body.model_dump())
    except (ValueError, TypeError, LookupError, shapely.errors.ShapelyError) as exc:
        raise InvalidInput(f"not a valid GeoJSON geometry: {exc}", field="geometry") from None
    if geometry.is_empty or not geometry.is_valid:
        raise InvalidInput("the geometry is empty or invalid", field="geometry")
    minx, miny, maxx, maxy = geometry.bounds
    if (
        min(miny, maxy) < -90
        or max(miny, maxy) > 90
        or min(minx, maxx) < -180
        or max(minx, maxx) > 180
    ):
        raise InvalidInput("coordinates must be lng,lat on Earth", field="geometry")
    return geometry


@router.post(
    "/closures",
    status_code=status.HTTP_201_CREATED,
    response_model=ClosureView,
    summary="Close a road or an area",
)
async def create_closure(
    body: ClosureRequest,
    sync_engine: SyncEngineDep,
    response: Response,
    destinations: DestinationsDep,
    claims: CurrentClaims,
) -> ClosureView:
    """Honoured at once by this worker and within seconds by every other one."""
    if body.expires_at is not None and body.duration_minutes is not None:
        raise InvalidInput("give expires_at or duration_minutes, not both", field="expires_at")
    expires_at = body.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        raise InvalidInput("expires_at needs a timezone", field="expires_at")
    if body.duration_minutes is not None:
        expires_at = utcnow() + timedelta(minutes=body.duration_minutes)
    info = await asyncio.to_thread(
        road_closures.declare_closure,
        sync_engine,
        destinations,
        geometry=_geometry(body.geometry),
        reason=body.reason,
        expires_at=expires_at,
        created_by=actor_of(claims).label,
    )
    response.headers["Location"] = f"{router.prefix}/closures/{info.id}"
    return ClosureView(**info.__dict__)


@router.get("/closures", response_model=list[ClosureView], summary="Closures in force")
async def list_closures(
    sync_engine: SyncEngineDep,
    region: Annotated[str | None, Query(max_length=100)] = None,
) -> list[ClosureView]:
    """For drawing on the console map."""
    infos = await asyncio.to_thread(
        road_closures.active_closures, sync_engine, region=region
    )
    return [ClosureView(**i.__dict__) for i in infos]


@router.delete(
    "/closures/{closure_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Reopen roads"
)
async def delete_closure(
    closure_id: uuid.UUID,
    sync_engine: SyncEngineDep,
    destinations: DestinationsDep,
    _: CurrentClaims,
) -> None:
    """Lift a closure before its expiry."""
    await asyncio.to_thread(
        road_closures.lift_closure, sync_engine, destinations, closure_id
    )
