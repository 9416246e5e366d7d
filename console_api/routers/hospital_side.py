"""Hospital admins: incoming cases, acknowledgement, capacity; operators: redirect and metrics."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from console_api.deps import (
    CurrentClaims,
    DispatchSettingsDep,
    ReadSessionDep,
    SessionDep,
    actor_of,
)
from console_api.params import IfMatchHeader, expected_version
from console_api.responses import Acknowledged, IncomingCase, ResponseTimes
from console_api.views import case_view
from data.base import utcnow
from data.errors import Forbidden, InvalidInput
from dispatch import hospital_directory, hospital_side, metrics
from dispatch.schemas import CaseView
from facilities import service as facilities_service
from facilities.schemas import CapacityUpdate, HospitalView
from identity.authz import manages_hospital
from identity.roles import Role

router = APIRouter(tags=["hospitals"])


class RedirectRequest(BaseModel):
    """A new destination for a dispatched case."""

    model_config = ConfigDict(extra="forbid")

    hospital_id: uuid.UUID


@router.put(
    "/api/v1/hospitals/{hospital_id}/capacity",
    response_model=HospitalView,
    summary="Report ED status and beds",
)
async def put_capacity(
    hospital_id: uuid.UUID,
    body: CapacityUpdate,
    db_session: SessionDep,
    dispatch_settings: DispatchSettingsDep,
    claims: CurrentClaims,
) -> HospitalView:
    """Only this hospital's admin (or a super admin); diverting flags cases already en route."""
    if not manages_hospital(claims, hospital_id):
        raise Forbidden(
            "only this hospital's admin may report its capacity", code="not_your_hospital"
        )
    hospital = await hospital_side.update_capacity(
        db_session=db_session, hospital_id=hospital_id, update=body, actor=actor_of(claims).label
    )
    stale_after = hospital_directory.stale_after(settings=dispatch_settings)
    return facilities_service.hospital_view(hospital, stale_after=stale_after)


@router.get("/api/v1/hospitals/{hospital_id}/incoming", response_model=list[IncomingCase],
            summary="Cases heading to this hospital")
async def incoming(
    hospital_id: uuid.UUID, db_session: SessionDep, claims: CurrentClaims
) -> list[dict[str, Any]]:
    """ETA, severity, symptom and patient summary of every case bound here."""
    if not manages_hospital(claims, hospital_id) and Role.EMERGENCY_OPERATOR not in claims.roles:
        raise Forbidden(
            "only this hospital's admin may see its incoming cases", code="not_your_hospital"
        )
    return await hospital_side.incoming(db_session=db_session, hospital_id=hospital_id)


@router.post(
    "/api/v1/emergency/cases/{case_id}/acknowledge", response_model=Acknowledged,
    summary="The destination hospital acknowledges an incoming case",
)
async def acknowledge(
    case_id: uuid.UUID,
    db_session: SessionDep,
    claims: CurrentClaims,
) -> dict[str, Any]:
    """Only an admin of the case's destination hospital may acknowledge it."""
    dispatch = await hospital_side.acknowledge(
        db_session=db_session, case_id=case_id, hospital_id=claims.hospital_id,
        actor=actor_of(claims),
    )
    return {"case_id": str(case_id), "acknowledged_at": dispatch.acknowledged_at.isoformat()}


@router.post(
    "/api/v1/emergency/cases/{case_id}/redirect", response_model=CaseView,
    summary="Send a dispatched case to another hospital",
)
async def redirect(
    case_id: uuid.UUID,
    body: RedirectRequest,
    db_session: SessionDep,
    claims: CurrentClaims,
    if_match: IfMatchHeader = None,
) -> CaseView:
    """Used when the destination diverts after dispatch."""
    case = await hospital_side.redirect(
        db_session=db_session, case_id=case_id, hospital_id=body.hospital_id,
        actor=actor_of(claims), expected_version=expected_version(if_match),
    )
    return case_view(case)


@router.get("/api/v1/metrics/response-times", response_model=ResponseTimes,
            summary="Response-time percentiles")
async def response_times(
    db_session: ReadSessionDep,
    _: CurrentClaims,
    since: Annotated[datetime | None, Query()] = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """P50/P90 of call→dispatch, dispatch→on scene, on scene→hospital, arrival→handover."""
    if since is not None and since.tzinfo is None:
        raise InvalidInput("since needs a timezone", field="since")
    return await metrics.response_times(
        db_session=db_session, since=since or utcnow() - timedelta(days=30), region=region
    )
