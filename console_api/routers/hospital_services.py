"""Per-service status of a hospital: its admin sets one capability's status until an end time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from console_api.deps import (
    CurrentClaims,
    DestinationsDep,
    DispatchSettingsDep,
    SessionDep,
    actor_of,
)
from console_api.responses import HospitalServices, ServiceStatusSet
from data.base import utcnow
from data.errors import Forbidden, InvalidInput
from dispatch.service_changes import reassess_open_cases
from facilities import service as facilities_service
from facilities import services as facility_services
from facilities.capabilities import UnknownCapability, parse_capability
from identity.authz import manages_hospital

router = APIRouter(prefix="/api/v1/hospitals", tags=["hospitals"])


class ServiceStatusUpdate(BaseModel):
    """``stroke_thrombectomy: unavailable, "CT down", until 14:00``."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["available", "limited", "unavailable"]
    reason: str | None = Field(default=None, min_length=1, max_length=500)
    until: datetime | None = Field(
        default=None, description="when the status ends and the service is available again"
    )


async def _services(db_session: SessionDep, hospital_id: uuid.UUID) -> dict[str, Any]:
    hospital = await facilities_service.get_hospital(db_session=db_session, hospital_id=hospital_id)
    rows = await facility_services.rows_of(db_session=db_session, hospital_ids=[hospital.id])
    states = facility_services.service_states(hospital, rows, now=utcnow())
    return {"hospital_id": str(hospital.id), "services": [s.as_dict() for s in states]}


@router.get("/{hospital_id}/services", response_model=HospitalServices,
            summary="Status of each service of a hospital")
async def read_services(hospital_id: uuid.UUID, db_session: SessionDep) -> dict[str, Any]:
    """Every declared capability with its effective status (expired statuses read available)."""
    return await _services(db_session, hospital_id)


@router.put(
    "/{hospital_id}/services/{capability}", response_model=ServiceStatusSet,
    summary="Set one service's status until an end time",
)
async def put_service(
    dispatch_settings: DispatchSettingsDep,
    hospital_id: uuid.UUID,
    capability: str,
    body: ServiceStatusUpdate,
    db_session: SessionDep,
    claims: CurrentClaims,
    destinations: DestinationsDep,
) -> dict[str, Any]:
    """Only this hospital's admin (or a super admin). Open cases that need this capability are
    re-ranked in the same transaction; other cases are untouched."""
    if not manages_hospital(claims, hospital_id):
        raise Forbidden(
            "only this hospital's admin may report its services", code="not_your_hospital"
        )
    try:
        wanted = parse_capability(capability)
    except UnknownCapability as exc:
        raise InvalidInput(str(exc), field="capability") from None
    if body.until is not None and body.until.tzinfo is None:
        raise InvalidInput("until needs a timezone, e.g. 2026-01-01T14:00:00Z", field="until")
    actor = actor_of(claims)
    hospital, state, previous = await facility_services.set_service_status(
        db_session=db_session, hospital_id=hospital_id, capability=wanted,
        status=facility_services.ServiceStatus(body.status), reason=body.reason,
        until=body.until, actor=actor.label,
    )
    reassessed = await reassess_open_cases(
        db_session=db_session, destinations=destinations, changes=[(hospital.region, wanted.value)],
        actor=actor, settings=dispatch_settings,
    )
    await db_session.commit()
    return {
        "hospital_id": str(hospital.id),
        **state.as_dict(),
        "previous_status": previous,
        "reassessed_cases": [str(c.id) for c in reassessed],
    }
