"""The caller's phone keeps sending its position; moving the case is the operator's decision."""

from __future__ import annotations

import uuid
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import Conflict, NotFound
from dispatch.alerts import raise_alert, resolve_alert
from dispatch.case_detail import report_view
from dispatch.case_events import Actor, add_case_event, case_location
from dispatch.destination_choice import assess_destinations
from dispatch.destinations import Destinations
from dispatch.lifecycle import FINAL_STATUSES, CaseStatus
from dispatch.models import CaseLocationReport, EmergencyCase
from dispatch.service import commit_change, get_case
from dispatch.settings import DispatchSettings
from routing.graph import haversine_m

ALERT_KIND = "location_moved"
#: A report closer than this (or than its own accuracy) to the case is the same place.
SAME_PLACE_M = 30.0


class CaseClosed(Conflict):
    """Location reports are only taken while the case is open."""

    code = "case_closed"


async def report_location(
    *,
    db_session: AsyncSession,
    case_id: uuid.UUID,
    lat: float,
    lng: float,
    accuracy_m: float | None,
) -> dict[str, Any]:
    """Store the phone's position; a real move opens a ``location_moved`` alert for the operator."""
    case = await get_case(db_session=db_session, case_id=case_id)
    if CaseStatus(case.status) in FINAL_STATUSES:
        raise CaseClosed("the case is over; location updates are no longer taken")
    case_lat, case_lng = case_location(case)
    distance = float(haversine_m(case_lat, case_lng, lat, lng))
    moved = distance > max(SAME_PLACE_M, accuracy_m or 0.0)
    if moved:
        await db_session.execute(
            update(CaseLocationReport)
            .where(CaseLocationReport.case_id == case_id, CaseLocationReport.status == "pending")
            .values(status="superseded")
        )
    report = CaseLocationReport(
        case_id=case_id,
        location=from_shape(Point(lng, lat), srid=4326),
        accuracy_m=accuracy_m,
        distance_m=distance,
        status="pending" if moved else "same",
        reported_at=utcnow(),
    )
    db_session.add(report)
    if moved:
        accuracy = f" (±{accuracy_m:.0f} m)" if accuracy_m is not None else ""
        await raise_alert(
            db_session=db_session, case=case, kind=ALERT_KIND, level="amber",
            message=f"The caller's phone reports a position {distance:.0f} m away{accuracy}: "
                    "confirm to move the case",
        )
    await db_session.commit()
    return report_view(report)


async def decide(
    *,
    db_session: AsyncSession,
    case_id: uuid.UUID,
    report_id: uuid.UUID,
    confirm: bool,
    actor: Actor,
    destinations: Destinations | None,
    settings: DispatchSettings,
) -> EmergencyCase:
    """Confirm (the case moves and its destinations are re-assessed) or dismiss a pending report."""
    report = await db_session.get(CaseLocationReport, report_id, with_for_update=True)
    if report is None or report.case_id != case_id:
        raise NotFound("no such location report for this case", code="location_report_not_found")
    if report.status != "pending":
        raise Conflict(f"this report is already {report.status}", code="location_report_decided")
    case = await get_case(db_session=db_session, case_id=case_id)
    if CaseStatus(case.status) in FINAL_STATUSES:
        raise CaseClosed("the case is over")
    now = utcnow()
    report.status = "confirmed" if confirm else "dismissed"
    report.decided_by, report.decided_at = actor.label, now
    point = to_shape(report.location)
    if confirm:
        case.location = report.location
        case.location_accuracy_m = report.accuracy_m
        case.updated_at = now
        await assess_destinations(db_session=db_session, case=case, destinations=destinations,
                                  settings=settings)
    await resolve_alert(db_session=db_session, case_id=case_id, kind=ALERT_KIND)
    add_case_event(
        db_session=db_session, case=case,
        action="relocate" if confirm else "keep_location",
        from_status=case.status, actor=actor, reason=None, at=now,
        details={"lat": point.y, "lng": point.x, "distance_m": round(report.distance_m, 1)},
    )
    await commit_change(db_session=db_session)
    return case
