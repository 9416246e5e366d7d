"""The public hospital directory: hospitals as the API shows them, ranked by road when asked."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from data.errors import InvalidInput
from dispatch.destinations import Destinations
from dispatch.settings import DispatchSettings
from facilities import service as facilities_service
from facilities.capabilities import Capability
from facilities.schemas import HospitalView


def stale_after(*, settings: DispatchSettings) -> timedelta:
    """Capacity older than this is shown ``capacity_stale``."""
    return timedelta(minutes=settings.capacity_stale_minutes)


async def list_hospitals(
    *,
    db_session: AsyncSession,
    region: str | None,
    capability: Capability | None,
    limit: int,
    settings: DispatchSettings,
) -> list[HospitalView]:
    """The directory in its stored order."""
    hospitals = await facilities_service.list_hospitals(
        db_session=db_session, region=region, capability=capability
    )
    stale = stale_after(settings=settings)
    return [facilities_service.hospital_view(h, stale_after=stale) for h in hospitals][:limit]


async def hospitals_by_eta(
    *,
    db_session: AsyncSession,
    destinations: Destinations,
    lat: float,
    lng: float,
    capability: Capability | None,
    limit: int,
    settings: DispatchSettings,
) -> list[HospitalView]:
    """Only hospitals reachable by road from the point, fastest first (ties by name)."""
    network = destinations.locate(lat, lng)
    if network is None:
        raise InvalidInput("near lies outside every service area", field="near",
                           code="outside_service_area")
    times = destinations.times(network, lat, lng)
    hospitals = await facilities_service.list_hospitals(
        db_session=db_session, region=network.name, capability=capability
    )
    ranked = sorted(
        (
            (times.eta_by_hospital.get(h.id, math.inf), h)
            for h in hospitals
            if math.isfinite(times.eta_by_hospital.get(h.id, math.inf))
        ),
        key=lambda pair: (pair[0], pair[1].name),
    )
    stale = stale_after(settings=settings)
    return [
        facilities_service.hospital_view(h, stale_after=stale, eta_seconds=round(eta, 1))
        for eta, h in ranked[:limit]
    ]
