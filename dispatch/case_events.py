"""One change of a case, staged: its new state, its audit row and its outbox event together.

Below ``service`` so that the modules service calls (linked calls, the later address) can stage
changes too without importing it back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.events import CaseChanged, CaseSnapshot, case_change
from data.outbox import record_event
from dispatch.lifecycle import STATUS_TIMESTAMP, CaseAction, CaseStatus, Transition, transition
from dispatch.models import CaseEvent, EmergencyCase


@dataclass(frozen=True)
class Actor:
    """Who performs an action, as written in the audit trail."""

    user_id: uuid.UUID | None
    label: str


def case_location(case: EmergencyCase) -> tuple[float, float]:
    """(lat, lng) of a case."""
    point = to_shape(case.location)
    return point.y, point.x


def case_snapshot(case: EmergencyCase) -> CaseSnapshot:
    """The event payload consumers need to update a case without another read."""
    lat, lng = case_location(case)
    return {
        "case_id": str(case.id),
        "status": case.status,
        "severity": case.severity,
        "symptom_category": case.symptom_category,
        "required_capability": case.required_capability,
        "lat": lat,
        "lng": lng,
        "region": case.region,
        "destination_hospital_id": (
            str(case.destination_hospital_id) if case.destination_hospital_id else None
        ),
        "version": case.version,
        "raised_at": case.raised_at.isoformat(),
    }


def add_case_event(*, db_session: AsyncSession, case: EmergencyCase, **change: Any) -> None:
    """Audit row and outbox event for one change (:func:`case_event_row`'s arguments), added to
    the caller's transaction."""
    row = case_event_row(case, **change)
    db_session.add(CaseEvent(**row))
    record_event(db_session, **case_outbox_event(case, row))


def case_event_row(
    case: EmergencyCase,
    *,
    action: str,
    from_status: str | None,
    actor: Actor,
    reason: str | None,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``case_events`` row of one change."""
    return {
        "id": uuid.uuid4(),
        "case_id": case.id,
        "action": action,
        "from_status": from_status,
        "to_status": case.status,
        "actor_user_id": actor.user_id,
        "actor": actor.label,
        "reason": reason,
        "details": details or {},
        "at": at,
    }


def case_outbox_event(case: EmergencyCase, row: dict[str, Any]) -> dict[str, Any]:
    """The outbox event of the change ``row`` records: the case as it now is, and what happened."""
    kind = case_change(row["action"])
    payload: CaseChanged = {**case_snapshot(case), "action": row["action"],
                            "from_status": row["from_status"]}
    return {
        "channel": kind.channel,
        "event_type": kind.event_type,
        "aggregate_type": "emergency_case",
        "aggregate_id": str(case.id),
        "payload": payload,
    }


def apply_action(
    *,
    db_session: AsyncSession,
    case: EmergencyCase,
    action: CaseAction,
    actor: Actor,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Move a loaded case (timestamp, reasons, ``changes``) and stage its audit and outbox rows."""
    move: Transition = transition(CaseStatus(case.status), action, reason=reason)
    now = utcnow()
    case.status = move.to_status.value
    setattr(case, STATUS_TIMESTAMP[move.to_status], now)
    if move.to_status is CaseStatus.CANCELLED:
        case.cancel_reason = move.reason
    if move.to_status is CaseStatus.CLOSED:
        case.close_reason = move.reason
    for name, value in (changes or {}).items():
        setattr(case, name, value)
    add_case_event(
        db_session=db_session,
        case=case,
        action=action.value,
        from_status=move.from_status.value,
        actor=actor,
        reason=move.reason,
        at=now,
        details=details,
    )
