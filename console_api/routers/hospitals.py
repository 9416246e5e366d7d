"""Hospitals: find the nearest capable ones by road, and let their admins report capacity."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from console_api.deps import DestinationsDep, ReadSessionDep
from console_api.params import parse_lat_lng
from data.errors import InvalidInput
from dispatch.settings import get_dispatch_settings
from facilities import service as facilities_service
from facilities.capabilities import Capability, UnknownCapability, parse_capability
from facilities.schemas import HospitalView

router = APIRouter(prefix="/api/v1/hospitals", tags=["hospitals"])


def stale_after() -> timedelta:
    return timedelta(minutes=get_dispatch_settings().capacity_stale_minutes)


def _capability(value: str | None) -> Capability | None:
    if value is None:
        return None
    try:
        return parse_capability(value)
    except UnknownCapability as exc:
        raise InvalidInput(str(exc), field="capability") from None


@router.get("", response_model=list[HospitalView], summary="Hospitals, ranked by road travel time")
async def list_hospitals(
    db_session: ReadSessionDep,
    destinations: DestinationsDep,
    capability: Annotated[str | None, Query(max_length=32)] = None,
    near: Annotated[str | None, Query(description="lat,lng: rank by road ETA from here")] = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[HospitalView]:
    """With ``near``, only hospitals reachable by road from that point, fastest first."""
    wanted = _capability(capability)
    if near is None:
        hospitals = await facilities_service.list_hospitals(
            db_session=db_session, region=region, capability=wanted
        )
        return [facilities_service.hospital_view(h, stale_after=stale_after()) for h in hospitals][
            :limit
        ]
    lat, lng = parse_lat_lng(near, field="near")
    network = destinations.locate(lat, lng)
    if network is None:
        raise InvalidInput("near lies outside every service area", field="near",
                           code="outside_service_area")
    times = destinations.times(network, lat, lng)
    hospitals = await facilities_service.list_hospitals(
        db_session=db_session, region=network.name, capability=wanted
    )
    ranked = sorted(
        (
            (times.eta_by_hospital.get(h.id, math.inf), h)
            for h in hospitals
            if math.isfinite(times.eta_by_hospital.get(h.id, math.inf))
        ),
        key=lambda pair: (pair[0], pair[1].name),
    )
    return [
        facilities_service.hospital_view(h, stale_after=stale_after(), eta_seconds=round(eta, 1))
        for eta, h in ranked[:limit]
    ]


@router.get("/{hospital_id}", response_model=HospitalView, summary="One hospital")
async def read_hospital(hospital_id: uuid.UUID, db_session: ReadSessionDep) -> HospitalView:
    """Public facts about a facility."""
    hospital = await facilities_service.get_hospital(db_session=db_session, hospital_id=hospital_id)
    return facilities_service.hospital_view(hospital, stale_after=stale_after())
