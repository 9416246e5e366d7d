"""Coverage now, move-up proposals and their acceptance, and the coverage cost of a dispatch."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from console_api.deps import CoverageBookDep as BookDep
from console_api.deps import (
    CurrentClaims,
    DestinationsDep,
    DispatchCostDep,
    DispatchSettingsDep,
    LivePositionsDep,
    SessionDep,
    actor_of,
)
from console_api.schemas.coverage import (
    CoverageRegion,
    CoverageReport,
    DispatchCost,
    MoveUpAccepted,
    MoveUps,
    PostView,
)
from dispatch import fleet
from dispatch.service import get_case
from fleet_coverage import figures, service
from fleet_coverage.policy import DispatchOption, suggest
from fleet_coverage.schemas import MoveUpRequest, PostCreate
from fleet_coverage.settings import get_coverage_settings

router = APIRouter(tags=["coverage"])

Region = Annotated[str, Query(min_length=1, max_length=100, description="region name")]
Minutes = Annotated[float | None, Query(gt=0, le=30, description="response-time target")]


async def _state(db_session, coverage: service.CoverageBook, region: str):
    settings = get_coverage_settings()
    coverage.network(region)  # 404 before touching the database
    demand = await service.load_demand(db_session=db_session, region=region)
    return await asyncio.to_thread(coverage.state, region, demand, settings)


@router.get("/api/v1/coverage/regions", response_model=list[CoverageRegion],
            summary="Served regions, with their centres")
async def regions(
    coverage: BookDep,
    _: CurrentClaims,
) -> list[dict[str, Any]]:
    """For the console to pick the region it is looking at."""
    found = []
    for name, network in sorted(coverage.destinations.regions.items()):
        centre = network.area.centroid
        found.append({"name": name, "lat": centre.y, "lng": centre.x})
    return found


@router.get("/api/v1/coverage", response_model=CoverageReport,
            summary="Demand-weighted coverage now, with uncovered cells")
async def coverage_now(
    live_fleet: LivePositionsDep,
    db_session: SessionDep,
    coverage: BookDep,
    region: Region,
    _: CurrentClaims,
    minutes: Minutes = None,
) -> dict[str, Any]:
    """Share of demand reached by a free unit (any, ALS) within ``minutes`` by road."""
    minutes = minutes or get_coverage_settings().minutes
    state = await _state(db_session, coverage, region)
    units = await service.free_fleet(db_session=db_session, live_fleet=live_fleet,
                                     network=state.network)
    return await asyncio.to_thread(figures.coverage_report, state, units, minutes)


@router.get("/api/v1/coverage/move-ups", response_model=MoveUps,
            summary="Proposed move-ups (MEXCLP) under the limits")
async def move_ups(
    live_fleet: LivePositionsDep,
    db_session: SessionDep,
    coverage: BookDep,
    region: Region,
    _: CurrentClaims,
    minutes: Minutes = None,
) -> dict[str, Any]:
    """Moves of free units to posts that raise expected coverage the most."""
    settings = get_coverage_settings()
    minutes = minutes or settings.minutes
    state = await _state(db_session, coverage, region)
    await service.ensure_station_posts(db_session=db_session, network=state.network,
                                       settings=settings)
    posts = await service.region_posts(db_session=db_session, region=region)
    units = await service.free_fleet(db_session=db_session, live_fleet=live_fleet,
                                     network=state.network)
    return await asyncio.to_thread(
        figures.propose_moves, state, units, posts, settings, minutes
    )


@router.get("/api/v1/coverage/posts", response_model=list[PostView],
            summary="Posts of a region (stations and standby points)")
async def list_posts(
    db_session: SessionDep,
    coverage: BookDep,
    region: Region,
    _: CurrentClaims,
) -> list[dict[str, Any]]:
    """Stations of the region's units are added as posts on first read."""
    network = coverage.network(region)
    await service.ensure_station_posts(db_session=db_session, network=network,
                                       settings=get_coverage_settings())
    posts = await service.region_posts(db_session=db_session, region=region)
    return [{"id": str(p.id), "name": p.name, "kind": p.kind, "lat": p.lat, "lng": p.lng}
            for p in posts]


@router.post("/api/v1/coverage/posts", response_model=PostView, status_code=status.HTTP_201_CREATED,
             summary="Add a standby point")
async def create_post(
    body: PostCreate,
    db_session: SessionDep,
    coverage: BookDep,
    _: CurrentClaims,
) -> dict[str, Any]:
    """A place where units may wait, inside the region."""
    network = coverage.network(body.region)
    post = await service.add_post(db_session=db_session, network=network, name=body.name,
                                  lat=body.lat,
                                  lng=body.lng)
    return {"id": str(post.id), "name": post.name, "kind": post.kind, "lat": post.lat,
            "lng": post.lng}


@router.post("/api/v1/units/{unit_id}/move-up", response_model=MoveUpAccepted,
             status_code=status.HTTP_201_CREATED,
             summary="Send a free unit to a post (crew texted)")
async def move_up(
    unit_id: uuid.UUID,
    body: MoveUpRequest,
    db_session: SessionDep,
    destinations: DestinationsDep,
    coverage: BookDep,
    claims: CurrentClaims,
) -> dict[str, Any]:
    """Audited; the crew gets an SMS and the console a ``coverage.updated`` event."""
    move = await service.accept_move_up(
        db_session=db_session, destinations=destinations, unit_id=unit_id,
        post_id=body.post_id, actor=actor_of(claims).label,
    )
    coverage.generation += 1  # the unit stands elsewhere now: no reuse of older figures
    return {"move_id": str(move.id), "unit_id": str(move.unit_id), "post_id": str(move.post_id),
            "region": move.region, "accepted_at": move.accepted_at.isoformat()}


@router.get("/api/v1/coverage/dispatch-cost", response_model=DispatchCost,
            summary="Coverage lost if each recommended unit goes, and the policy's suggestion")
async def dispatch_cost(
    dispatch_settings: DispatchSettingsDep,
    live_fleet: LivePositionsDep,
    destinations: DestinationsDep,
    db_session: SessionDep,
    cost: DispatchCostDep,
    case_id: Annotated[uuid.UUID, Query()],
    _: CurrentClaims,
) -> dict[str, Any]:
    """The figures the case read puts in ``recommended_units``, with the policy's reasoning."""
    settings = get_coverage_settings()
    case = await get_case(db_session=db_session, case_id=case_id)
    recommended = await fleet.recommend_for_case(
        db_session=db_session, live_fleet=live_fleet,
        destinations=destinations, case=case, settings=dispatch_settings,
    )
    units = await cost.annotate(db_session=db_session, live_fleet=live_fleet, case=case,
                                units=recommended)
    choice = suggest(
        [DispatchOption(u["unit_id"], float(u["eta_seconds"]), u.get("coverage_lost_pp"))
         for u in units],
        case.severity, max_extra_s=settings.policy_max_extra_seconds,
        min_saving_pp=settings.policy_min_saving_pp,
    )
    return {
        "case_id": str(case.id),
        "severity": case.severity,
        "minutes": settings.minutes,
        "units": [
            {"unit_id": u["unit_id"], "call_sign": u["call_sign"],
             "eta_seconds": u["eta_seconds"], "coverage_lost_pp": u.get("coverage_lost_pp")}
            for u in units
        ],
        "suggestion": {
            "unit_id": choice.unit_id, "reason": choice.reason,
            "extra_seconds": round(choice.extra_seconds, 1),
            "saving_pp": round(choice.saving_pp, 3),
        } if units else None,
    }
