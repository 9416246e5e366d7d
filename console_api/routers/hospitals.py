"""Hospitals: find the nearest capable ones by road, and let their admins report capacity."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from console_api.deps import DestinationsDep, DispatchSettingsDep, ReadSessionDep
from console_api.params import parse_lat_lng
from data.errors import InvalidInput
from dispatch import hospital_directory
from facilities import service as facilities_service
from facilities.capabilities import Capability, UnknownCapability, parse_capability
from facilities.schemas import HospitalView

router = APIRouter(prefix="/api/v1/hospitals", tags=["hospitals"])


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
    dispatch_settings: DispatchSettingsDep,
    capability: Annotated[str | None, Query(max_length=32)] = None,
    near: Annotated[str | None, Query(description="lat,lng: rank by road ETA from here")] = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[HospitalView]:
    """With ``near``, only hospitals reachable by road from that point, fastest first."""
    wanted = _capability(capability)
    if near is None:
        return await hospital_directory.list_hospitals(
            db_session=db_session, region=region, capability=wanted, limit=limit,
            settings=dispatch_settings,
        )
    lat, lng = parse_lat_lng(near, field="near")
    return await hospital_directory.hospitals_by_eta(
        db_session=db_session, destinations=destinations, lat=lat, lng=lng, capability=wanted,
        limit=limit, settings=dispatch_settings,
    )


@router.get("/{hospital_id}", response_model=HospitalView, summary="One hospital")
async def read_hospital(
    hospital_id: uuid.UUID, db_session: ReadSessionDep, dispatch_settings: DispatchSettingsDep
) -> HospitalView:
    """Public facts about a facility."""
    hospital = await facilities_service.get_hospital(db_session=db_session, hospital_id=hospital_id)
    stale_after = hospital_directory.stale_after(settings=dispatch_settings)
    return facilities_service.hospital_view(hospital, stale_after=stale_after)
