"""The operator's full picture of a case: dispatch, crew clock, alerts, timeline, unit options."""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import datetime
from typing import Any, Protocol

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from dispatch import fleet
from dispatch.case_events import case_location
from dispatch.destinations import Destinations
from dispatch.lifecycle import CaseStatus
from dispatch.models import (
    CaseAlert,
    CaseEvent,
    CaseLocationReport,
    EmergencyCase,
    EmergencyDispatch,
    UnitEvent,
)
from dispatch.ports import LivePositions
from dispatch.response_plans import choose_units, plan_for
from dispatch.settings import DispatchSettings

CLOCK = ("assigned_at", "en_route_at", "on_scene_at", "transporting_at", "at_hospital_at",
         "handover_at", "acknowledged_at", "completed_at")


class CoverageCost(Protocol):
    """Port: the coverage each recommended unit's departure costs the region (fleet_coverage)."""

    async def annotate(
        self, *, db_session: AsyncSession, live_fleet: LivePositions, case: EmergencyCase,
        units: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """The units, same order, each with ``coverage_lost_pp``."""
        ...


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def handover_level(
    dispatch: EmergencyDispatch, now: datetime, *, settings: DispatchSettings
) -> tuple[float | None, str | None]:
    """Minutes since arrival at hospital without handover, and amber/red past the thresholds."""
    if dispatch.at_hospital_at is None or dispatch.handover_at is not None:
        return None, None
    minutes = (now - dispatch.at_hospital_at).total_seconds() / 60
    if minutes >= settings.handover_red_minutes:
        return minutes, "red"
    if minutes >= settings.handover_amber_minutes:
        return minutes, "amber"
    return minutes, None


def dispatch_view(
    dispatch: EmergencyDispatch, now: datetime, *, settings: DispatchSettings
) -> dict[str, Any]:
    """A dispatch with its crew clock and handover timer."""
    minutes, level = handover_level(dispatch, now, settings=settings)
    return {
        "id": str(dispatch.id),
        "unit_id": str(dispatch.unit_id) if dispatch.unit_id else None,
        "call_sign": dispatch.ambulance_ref,
        "hospital_id": str(dispatch.hospital_id) if dispatch.hospital_id else None,
        "status": dispatch.status,
        "eta_minutes": dispatch.eta_minutes,
        **{name: _iso(getattr(dispatch, name)) for name in CLOCK},
        "position": dispatch.position,
        "plan_slot": dispatch.plan_slot,
        "handover_minutes": round(minutes, 1) if minutes is not None else None,
        "handover_alert": level,
    }


async def timeline(*, db_session: AsyncSession, case: EmergencyCase) -> list[dict[str, Any]]:
    """Case transitions and its units' status changes, in time order."""
    events = (
        await db_session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at)
        )
    ).scalars()
    unit_events = (
        await db_session.execute(
            select(UnitEvent).where(UnitEvent.case_id == case.id).order_by(UnitEvent.at)
        )
    ).scalars()
    rows = [
        {"kind": "case", "action": e.action, "from_status": e.from_status,
         "to_status": e.to_status, "actor": e.actor, "reason": e.reason, "at": e.at,
         "details": e.details}
        for e in events
    ] + [
        {"kind": "unit", "action": f"unit.{e.to_status}", "from_status": e.from_status,
         "to_status": e.to_status, "actor": e.actor, "reason": None, "at": e.at,
         "details": {"unit_id": str(e.unit_id), "source": e.source}}
        for e in unit_events
    ]
    rows.sort(key=lambda r: r["at"])
    return [{**r, "at": r["at"].isoformat()} for r in rows]


async def alerts(*, db_session: AsyncSession, case: EmergencyCase) -> list[dict[str, Any]]:
    """Open alerts of the case."""
    rows = (
        await db_session.execute(
            select(CaseAlert)
            .where(CaseAlert.case_id == case.id, CaseAlert.resolved_at.is_(None))
            .order_by(CaseAlert.raised_at)
        )
    ).scalars()
    return [
        {
            "kind": a.kind,
            "level": a.level,
            "message": a.message,
            "raised_at": a.raised_at.isoformat(),
        }
        for a in rows
    ]


def report_view(report: CaseLocationReport) -> dict[str, Any]:
    """A report as the console shows it."""
    point = to_shape(report.location)
    return {
        "id": str(report.id), "lat": point.y, "lng": point.x, "accuracy_m": report.accuracy_m,
        "distance_m": round(report.distance_m, 1), "status": report.status,
        "reported_at": report.reported_at.isoformat(),
    }


async def pending_report(
    *,
    db_session: AsyncSession, case_id: uuid.UUID
) -> dict[str, Any] | None:
    """The report waiting for the operator, if any."""
    report = await db_session.scalar(
        select(CaseLocationReport)
        .where(CaseLocationReport.case_id == case_id, CaseLocationReport.status == "pending")
        .order_by(CaseLocationReport.reported_at.desc())
        .limit(1)
    )
    return report_view(report) if report else None


async def case_extras(
    *,
    db_session: AsyncSession,
    live_fleet: LivePositions,
    destinations: Destinations,
    case: EmergencyCase,
    settings: DispatchSettings,
    coverage: CoverageCost | None = None,
) -> dict[str, Any]:
    """Everything beyond the case row an operator needs to act."""
    now = utcnow()
    # Every unit of the case, lead first (completed ones too: the clock stays readable).
    dispatches = list(
        await db_session.scalars(
            select(EmergencyDispatch)
            .where(EmergencyDispatch.case_id == case.id)
            .order_by(EmergencyDispatch.position, EmergencyDispatch.assigned_at)
        )
    )
    live = [d for d in dispatches if d.completed_at is None]
    dispatch = (live or dispatches or [None])[0]
    units: list[dict[str, Any]] = []
    plan = None
    if case.status in (CaseStatus.RAISED.value, CaseStatus.TRIAGED.value):
        ranked = await fleet.recommend_for_case(
            db_session=db_session, live_fleet=live_fleet, destinations=destinations, case=case,
            k=fleet.ROUTED_AT_MOST, settings=settings,
        )
        units = ranked[: settings.recommended_units]
        plan = choose_units(plan_for(case.symptom_category, case.severity), ranked)
        if coverage is not None:
            units = await coverage.annotate(
                db_session=db_session, live_fleet=live_fleet, case=case, units=units
            )
    return {
        "recommended_units": units,
        "recommended_plan": plan,
        "dispatch": dispatch_view(dispatch, now, settings=settings) if dispatch else None,
        "dispatches": [dispatch_view(d, now, settings=settings) for d in dispatches],
        "alerts": await alerts(db_session=db_session, case=case),
        "timeline": await timeline(db_session=db_session, case=case),
        "pending_location": await pending_report(db_session=db_session, case_id=case.id),
    }


async def case_routes(*, destinations: Destinations, case: EmergencyCase) -> dict[str, Any]:
    """Route lines from the scene to the destination and the recommended hospitals, for the map."""
    recommended = {
        h["hospital_id"]: h for h in (case.recommendation or {}).get("hospitals", [])
    }
    destination = str(case.destination_hospital_id) if case.destination_hospital_id else None
    wanted = list(dict.fromkeys(([destination] if destination else []) + list(recommended)))
    lat, lng = case_location(case)
    network = destinations.locate(lat, lng)
    features: list[dict[str, Any]] = []
    if network is None or not wanted:
        return {"type": "FeatureCollection", "features": features}
    routes = await asyncio.to_thread(
        destinations.routes,
        network,
        lat,
        lng,
        [uuid.UUID(h) for h in wanted],
        with_geometry=True,
    )
    for hospital_id in wanted:
        route = routes.get(uuid.UUID(hospital_id))
        if route is None or route.geometry is None:
            continue  # unreachable now (a closure): no line rather than a made-up one
        features.append(
            {
                "type": "Feature",
                "geometry": route.geometry,
                "properties": {
                    "hospital_id": hospital_id,
                    "name": recommended.get(hospital_id, {}).get("name"),
                    "eta_seconds": round(route.eta_s, 1),
                    "distance_m": (
                        round(route.distance_m, 1) if math.isfinite(route.distance_m) else None
                    ),
                    "destination": hospital_id == destination,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
