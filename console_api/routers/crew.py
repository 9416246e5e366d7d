"""The crew link: read the job and report status, with nothing but the signed token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict

from console_api.deps import DestinationsDep, IdentitySettingsDep, LivePositionsDep, SessionDep
from console_api.responses import CrewJob, CrewStatusReported
from dispatch import crew, crew_routes
from dispatch.unit_status import CrewStatus

router = APIRouter(prefix="/api/v1/crew", tags=["crew"])


class CrewReport(BaseModel):
    """A status button pressed on the crew page."""

    model_config = ConfigDict(extra="forbid")

    status: CrewStatus


@router.get("/{token}", response_model=CrewJob, summary="The job behind a crew link")
async def read_job(
    token: str,
    live_fleet: LivePositionsDep,
    db_session: SessionDep,
    settings: IdentitySettingsDep,
    destinations: DestinationsDep,
) -> dict[str, Any]:
    """Incident, destination, the road route to each, and the statuses the crew may report next."""
    context = await crew.open_link(db_session=db_session, token=token, secret=settings.secret_key)
    return await crew_routes.crew_job(
        db_session=db_session, live_fleet=live_fleet, destinations=destinations,
        context=context,
    )


@router.post("/{token}/status", response_model=CrewStatusReported,
             summary="Report en route / on scene / transporting / ...")
async def report(
    token: str,
    body: CrewReport,
    db_session: SessionDep,
    settings: IdentitySettingsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    """On scene marks the case arrived; handover complete closes it and frees the unit."""
    context = await crew.open_link(
        db_session=db_session, token=token, secret=settings.secret_key, lock=True
    )
    return await crew.report_status(
        db_session=db_session,
        context=context,
        report=body.status,
        source="crew_page",
        idempotency_key=idempotency_key,
    )
