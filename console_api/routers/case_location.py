"""Location updates from the caller's phone, and the operator's confirmation of a moved case."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from console_api.case_deps import ReportableCase
from console_api.deps import (
    CurrentClaims,
    DestinationsDep,
    DispatchSettingsDep,
    SessionDep,
    actor_of,
)
from console_api.responses import LocationReported
from console_api.views import case_view
from dispatch import location_reports
from dispatch.schemas import CaseView, LocationReport

router = APIRouter(prefix="/api/v1/emergency/cases/{case_id}/location", tags=["emergency"])


@router.post("", response_model=LocationReported,
             summary="The caller's phone reports its position (case token or staff)")
async def report_location(
    case: ReportableCase,
    body: LocationReport,
    db_session: SessionDep,
) -> dict[str, Any]:
    """Stored as a report; a real move raises an alert, the case itself does not move."""
    return await location_reports.report_location(
        db_session=db_session, case_id=case.id, lat=body.lat, lng=body.lng,
        accuracy_m=body.accuracy_m,
    )


@router.post("/{report_id}/confirm", response_model=CaseView, summary="Move the case there")
async def confirm(
    dispatch_settings: DispatchSettingsDep,
    case_id: uuid.UUID,
    report_id: uuid.UUID,
    db_session: SessionDep,
    destinations: DestinationsDep,
    claims: CurrentClaims,
) -> CaseView:
    """The destination hospitals are re-assessed from the new position."""
    case = await location_reports.decide(
        db_session=db_session, case_id=case_id, report_id=report_id, confirm=True,
        actor=actor_of(claims), destinations=destinations, settings=dispatch_settings,
    )
    return case_view(case)


@router.post("/{report_id}/dismiss", response_model=CaseView, summary="Keep the case where it is")
async def dismiss(
    dispatch_settings: DispatchSettingsDep,
    case_id: uuid.UUID,
    report_id: uuid.UUID,
    db_session: SessionDep,
    destinations: DestinationsDep,
    claims: CurrentClaims,
) -> CaseView:
    """The report is kept in the timeline as dismissed."""
    case = await location_reports.decide(
        db_session=db_session, case_id=case_id, report_id=report_id, confirm=False,
        actor=actor_of(claims), destinations=destinations, settings=dispatch_settings,
    )
    return case_view(case)
