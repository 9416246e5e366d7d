"""Alerts an operator must see on a case: diversion after dispatch, handover delays, failed SMS."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.events import CASE_ALERT, CaseAlertRaised
from data.outbox import record_event
from dispatch.case_detail import handover_level
from dispatch.case_events import case_snapshot
from dispatch.models import CaseAlert, EmergencyCase, EmergencyDispatch
from dispatch.settings import DispatchSettings
from messaging.models import SmsMessage


async def raise_alert(
    *,
    db_session: AsyncSession, case: EmergencyCase, kind: str, level: str, message: str
) -> None:
    """Open (or re-open) an alert on a case and tell the consoles, in the caller's transaction."""
    await db_session.execute(
        insert(CaseAlert)
        .values(id=uuid.uuid4(), case_id=case.id, kind=kind, level=level, message=message,
                raised_at=utcnow(), resolved_at=None)
        .on_conflict_do_update(
            index_elements=["case_id", "kind"],
            set_={"level": level, "message": message, "raised_at": utcnow(), "resolved_at": None},
        )
    )
    payload: CaseAlertRaised = {
        **case_snapshot(case), "action": "alert",
        "alert": {"kind": kind, "level": level, "message": message},
    }
    record_event(
        db_session,
        channel=CASE_ALERT.channel,
        event_type=CASE_ALERT.event_type,
        aggregate_type="emergency_case",
        aggregate_id=case.id,
        payload=payload,
    )


async def break_glass_opened(
    *,
    db_session: AsyncSession, case: EmergencyCase, actor: str
) -> None:
    """A record opened outside the usual rules is a priority alert for the operators."""
    await raise_alert(
        db_session=db_session, case=case, kind="break_glass", level="red",
        message=f"opened by {actor} with break-glass; the reason is in the audit trail",
    )
    await db_session.commit()


async def resolve_alert(*, db_session: AsyncSession, case_id: uuid.UUID, kind: str) -> None:
    """Close an alert that no longer applies."""
    alert = await db_session.scalar(
        select(CaseAlert).where(CaseAlert.case_id == case_id, CaseAlert.kind == kind)
    )
    if alert is not None and alert.resolved_at is None:
        alert.resolved_at = utcnow()


async def sms_failed(*, db_session: AsyncSession, message: SmsMessage) -> None:
    """Failure hook of the SMS sender: the operator must phone the crew instead."""
    if message.case_id is None:
        return
    case = await db_session.get(EmergencyCase, message.case_id)
    if case is not None:
        await raise_alert(
            db_session=db_session, case=case, kind="sms_failed", level="red",
            message=f"SMS to {message.to_number} failed after {message.attempts} attempts: "
            f"{message.last_error}; contact the crew by radio or phone",
        )


async def sweep_handover_alerts(*, db_session: AsyncSession, settings: DispatchSettings) -> int:
    """Raise amber/red handover alerts for units waiting at hospital; returns alerts raised."""
    rows = (
        await db_session.execute(
            select(EmergencyDispatch, EmergencyCase)
            .join(EmergencyCase, EmergencyCase.id == EmergencyDispatch.case_id)
            .where(
                EmergencyDispatch.at_hospital_at.is_not(None),
                EmergencyDispatch.handover_at.is_(None),
                EmergencyDispatch.completed_at.is_(None),
            )
        )
    ).all()
    now = utcnow()
    raised = 0
    for dispatch, case in rows:
        minutes, level = handover_level(dispatch, now, settings=settings)
        if level is None:
            continue
        existing = await db_session.scalar(
            select(CaseAlert).where(
                CaseAlert.case_id == case.id, CaseAlert.kind == "handover_delay"
            )
        )
        if existing is not None and existing.level == level and existing.resolved_at is None:
            continue
        await raise_alert(
            db_session=db_session, case=case, kind="handover_delay", level=level,
            message=f"{dispatch.ambulance_ref} waiting {minutes:.0f} min at hospital for handover",
        )
        raised += 1
    await db_session.commit()
    return raised
