"""The crew's two legs on our road network: unit to the scene, then the scene to the hospital."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import fleet
from dispatch.crew import CrewContext, crew_view
from dispatch.destinations import Destinations
from dispatch.ports import LivePositions

Point = tuple[float, float]


def _leg(destinations: Destinations, origin: Point, target: Point) -> dict[str, Any] | None:
    """One fastest route as GeoJSON, or None when it cannot be routed (outside, unreachable)."""
    network = destinations.locate(*origin)
    if network is None or not network.covers(*target):
        return None
    found = network.engine.route(origin, target)
    if found is None:
        return None
    return {
        "eta_seconds": round(found.eta_s, 1),
        "distance_m": round(found.distance_m, 1),
        "geometry": found.geometry,
    }


async def crew_job(
    *,
    db_session: AsyncSession,
    live_fleet: LivePositions,
    destinations: Destinations,
    context: CrewContext,
) -> dict[str, Any]:
    """The crew view with ``routes.to_scene`` (from the unit's fix) and ``routes.to_hospital``."""
    view = await crew_view(db_session=db_session, context=context)
    live = (await fleet.live_positions(live_fleet, [context.unit]))[context.unit.id]
    unit_at = (live.lat, live.lng) if live else fleet.station_of(context.unit)
    scene = (view["case"]["lat"], view["case"]["lng"])
    hospital = view["hospital"]
    to_scene = await asyncio.to_thread(_leg, destinations, unit_at, scene)
    to_hospital = (
        await asyncio.to_thread(_leg, destinations, scene, (hospital["lat"], hospital["lng"]))
        if hospital
        else None
    )
    view["unit"]["lat"], view["unit"]["lng"] = unit_at
    view["routes"] = {"to_scene": to_scene, "to_hospital": to_hospital}
    return view
