"""What a crew may see and do through its SMS link (or an SMS reply), and nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from data import idempotency
from data.base import utcnow
from data.errors import Forbidden, InvalidInput
from data.events import CASE_CREW_STATUS, CaseCrewStatus
from data.outbox import record_event
from dispatch import fleet
from dispatch.alerts import resolve_alert
from dispatch.case_events import Actor, case_location, case_snapshot
from dispatch.crew_tokens import CrewClaims, verify_crew_token
from dispatch.dispatching import release_unit
from dispatch.lifecycle import FINAL_STATUSES, CaseAction, CaseStatus
from dispatch.models import EmergencyCase, EmergencyDispatch, Unit
from dispatch.service import commit_change, stage_action
from dispatch.unit_status import CrewStatus, UnitStatus, crew_transition
from facilities.models import Hospital
from messaging.models import SmsMessage

#: SMS reply digits, printed in the crew SMS.
REPLY_DIGITS = {
    "1": CrewStatus.EN_ROUTE,
    "2": CrewStatus.ON_SCENE,
    "3": CrewStatus.TRANSPORTING,
    "4": CrewStatus.AT_HOSPITAL,
    "5": CrewStatus.HANDOVER_COMPLETE,
}

DISPATCH_CLOCK = {
    CrewStatus.EN_ROUTE: "en_route_at",
    CrewStatus.ON_SCENE: "on_scene_at",
    CrewStatus.TRANSPORTING: "transporting_at",
    CrewStatus.AT_HOSPITAL: "at_hospital_at",
    CrewStatus.HANDOVER_COMPLETE: "handover_at",
}


@dataclass(frozen=True)
class CrewContext:
    """A verified crew link's dispatch, case and unit."""

    claims: CrewClaims
    dispatch: EmergencyDispatch
    case: EmergencyCase
    unit: Unit


async def open_link(
    *,
    db_session: AsyncSession, token: str, secret: str, lock: bool = False
) -> CrewContext:
    """Verify the token and that its dispatch is still live; a closed case ends the link."""
    claims = verify_crew_token(token, secret=secret)
    dispatch = await db_session.get(
        EmergencyDispatch, claims.dispatch_id, populate_existing=True, with_for_update=lock
    )
    case = await db_session.get(EmergencyCase, claims.case_id, populate_existing=True)
    unit = await db_session.get(Unit, claims.unit_id, populate_existing=True, with_for_update=lock)
    if (
        dispatch is None
        or case is None
        or unit is None
        or dispatch.case_id != case.id
        or dispatch.unit_id != unit.id
    ):
        raise Forbidden("this crew link is not valid", code="invalid_crew_token")
    if (
        dispatch.completed_at is not None
        or CaseStatus(case.status) in FINAL_STATUSES
        or unit.current_case_id != case.id
    ):
        raise Forbidden("this case is over; the crew link has expired", code="crew_token_expired")
    return CrewContext(claims, dispatch, case, unit)


#: Case statuses in which a crew link still acts (anything but closed or cancelled).
_LIVE_STATUSES = tuple(s.value for s in CaseStatus if s not in FINAL_STATUSES)


async def dispatch_is_live(*, db_session: AsyncSession, claims: CrewClaims) -> bool:
    """Whether the token's dispatch is still open and its unit still bound to that case.

    One indexed query; every use of a crew token (HTTP ping, telemetry socket) asks it, so a
    link stops acting the moment its case ends or its unit is sent elsewhere.
    """
    found = await db_session.scalar(
        select(EmergencyDispatch.id)
        .join(EmergencyCase, EmergencyCase.id == EmergencyDispatch.case_id)
        .join(Unit, Unit.id == EmergencyDispatch.unit_id)
        .where(
            EmergencyDispatch.id == claims.dispatch_id,
            EmergencyDispatch.case_id == claims.case_id,
            EmergencyDispatch.unit_id == claims.unit_id,
            EmergencyDispatch.completed_at.is_(None),
            EmergencyCase.status.in_(_LIVE_STATUSES),
            Unit.current_case_id == claims.case_id,
        )
    )
    return found is not None


async def live_among(
    *,
    db_session: AsyncSession, claims: set[CrewClaims]
) -> set[CrewClaims]:
    """Which of many crew links are still live, in one query (the telemetry sockets' watch)."""
    if not claims:
        return set()
    rows = await db_session.execute(
        select(EmergencyDispatch.id)
        .join(EmergencyCase, EmergencyCase.id == EmergencyDispatch.case_id)
        .join(Unit, Unit.id == EmergencyDispatch.unit_id)
        .where(
            EmergencyDispatch.id.in_([c.dispatch_id for c in claims]),
            EmergencyDispatch.completed_at.is_(None),
            EmergencyCase.status.in_(_LIVE_STATUSES),
            Unit.current_case_id == EmergencyDispatch.case_id,
        )
    )
    live = set(rows.scalars())
    return {c for c in claims if c.dispatch_id in live}


async def live_crew_claims(
    *,
    db_session: AsyncSession, token: str, secret: str
) -> CrewClaims:
    """A crew token's claims, only while its dispatch is live; 403 otherwise."""
    claims = verify_crew_token(token, secret=secret)
    if not await dispatch_is_live(db_session=db_session, claims=claims):
        raise Forbidden("this case is over; the crew link has expired", code="crew_token_expired")
    return claims


async def crew_view(*, db_session: AsyncSession, context: CrewContext) -> dict[str, Any]:
    """The incident, the destination and the unit's state, for the crew page."""
    lat, lng = case_location(context.case)
    hospital = (
        await db_session.get(Hospital, context.dispatch.hospital_id)
        if context.dispatch.hospital_id
        else None
    )
    hospital_view = None
    if hospital is not None:
        point = to_shape(hospital.location)
        hospital_view = {
            "id": str(hospital.id), "name": hospital.name, "lat": point.y, "lng": point.x,
            "ed_status": hospital.ed_status,
        }
    status = UnitStatus(context.unit.status)
    return {
        "case": {
            "id": str(context.case.id),
            "status": context.case.status,
            "severity": context.case.severity,
            "symptom_category": context.case.symptom_category,
            "notes": context.case.notes,
            "address": context.case.address,
            "lat": lat,
            "lng": lng,
            "reporter_phone": context.case.reporter_phone,
        },
        "unit": {
            "id": str(context.unit.id),
            "call_sign": context.unit.call_sign,
            "status": status.value,
        },
        "hospital": hospital_view,
        "next_statuses": [
            report.value
            for report in CrewStatus
            if _legal(status, report)
        ],
        "expires_at": context.claims.expires_at.isoformat(),
    }


def _legal(status: UnitStatus, report: CrewStatus) -> bool:
    try:
        crew_transition(status, report)
    except Exception:  # noqa: BLE001 - any refusal means "not offered"
        return False
    return True


async def report_status(
    *,
    db_session: AsyncSession,
    context: CrewContext,
    report: CrewStatus,
    source: str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Apply a crew report: unit status, the dispatch clock, and the case when it follows.

    On scene moves the case to arrived; handover complete closes it and frees the unit. A
    retry with the same Idempotency-Key returns the first outcome and changes nothing.
    """
    key = None
    if idempotency_key is not None:
        key = idempotency.IdempotencyKey(scope=f"crew:{context.dispatch.id}", key=idempotency_key)
        earlier = await idempotency.claim(
            db_session,
            key=key,
            request_hash=idempotency.request_fingerprint({"status": report.value}),
            resource_type="crew_report",
        )
        if earlier is not None:
            outcome = {"status": report.value, "replayed": True,
                       "unit_status": context.unit.status, "case_status": context.case.status}
            await db_session.rollback()
            return outcome
    unit, case, dispatch = context.unit, context.case, context.dispatch
    status_before = case.status
    crew_transition(UnitStatus(unit.status), report)
    actor = Actor(user_id=None, label=f"crew:{unit.call_sign}")
    now = utcnow()
    setattr(dispatch, DISPATCH_CLOCK[report], now)
    if report is CrewStatus.ON_SCENE and case.status == CaseStatus.DISPATCHED.value:
        case = await stage_action(
            db_session=db_session, case_id=case.id, action=CaseAction.ARRIVE, actor=actor,
            details={"source": source},
        )
    if report is CrewStatus.HANDOVER_COMPLETE:
        if case.status == CaseStatus.DISPATCHED.value:
            case = await stage_action(
                db_session=db_session, case_id=case.id, action=CaseAction.ARRIVE, actor=actor,
                details={"source": source},
            )
        case = await stage_action(
            db_session=db_session, case_id=case.id, action=CaseAction.CLOSE, actor=actor,
            reason="handover complete", details={"source": source},
        )
        with db_session.no_autoflush:
            await release_unit(db_session=db_session, case=case, actor=actor.label, source=source)
            await resolve_alert(db_session=db_session, case_id=case.id, kind="handover_delay")
    else:
        fleet.move_unit(
            db_session=db_session, unit=unit, target=UnitStatus(report.value), actor=actor.label,
            source=source,
            case_id=case.id,
        )
        dispatch.status = report.value
        if case.status == status_before:
            # The case did not move, but the patient, console and hospital follow the crew too.
            payload: CaseCrewStatus = {
                **case_snapshot(case), "action": "crew_status", "unit_status": report.value,
                "call_sign": unit.call_sign,
            }
            record_event(
                db_session, channel=CASE_CREW_STATUS.channel,
                event_type=CASE_CREW_STATUS.event_type, aggregate_type="emergency_case",
                aggregate_id=case.id, payload=payload,
            )
    if key is not None:
        await idempotency.bind(db_session, key=key, resource_id=dispatch.id)
    await commit_change(db_session=db_session)
    return {"status": report.value, "replayed": False, "unit_status": unit.status,
            "case_status": case.status}


async def apply_sms_reply(
    *,
    db_session: AsyncSession, from_number: str, body: str, provider_sid: str | None
) -> str:
    """Handle ``<code> <digit>`` texted by a crew member; returns the reply to send back."""
    message = SmsMessage(
        direction="inbound", purpose="crew_reply", to_number="lifeline",
        from_number=from_number, body=body[:1600], status="received",
        provider_sid=provider_sid, next_attempt_at=None,
    )
    db_session.add(message)
    parts = body.replace(",", " ").split()
    if len(parts) != 2 or parts[1] not in REPLY_DIGITS:
        await db_session.commit()
        return "Lifeline: reply with your 4-digit code and a digit 1-5, e.g. 1234 2"
    code, digit = parts
    candidates = (
        await db_session.execute(
            select(EmergencyDispatch, Unit)
            .join(Unit, Unit.id == EmergencyDispatch.unit_id)
            .where(EmergencyDispatch.reply_code == code, EmergencyDispatch.completed_at.is_(None))
        )
    ).all()
    match = [(d, u) for d, u in candidates if from_number in (u.crew_phones or [])]
    if len(match) != 1:
        await db_session.commit()
        return "Lifeline: code not recognised for this phone"
    dispatch, unit = match[0]
    message.case_id, message.unit_id = dispatch.case_id, unit.id
    await db_session.commit()
    case = await db_session.get(EmergencyCase, dispatch.case_id)
    context = CrewContext(
        claims=CrewClaims(dispatch.id, dispatch.case_id, unit.id, utcnow()),
        dispatch=dispatch, case=case, unit=unit,
    )
    report = REPLY_DIGITS[digit]
    try:
        await report_status(db_session=db_session, context=context, report=report, source="sms")
    except (InvalidInput, Exception) as exc:  # noqa: BLE001 - the crew gets the reason by SMS
        await db_session.rollback()
        return f"Lifeline: not applied ({getattr(exc, 'detail', exc)})"
    return f"Lifeline: {unit.call_sign} {report.value.replace('_', ' ')} recorded"


__all__ = [
    "CrewContext", "apply_sms_reply", "crew_view", "dispatch_is_live", "live_among",
    "live_crew_claims",
    "open_link", "report_status",
]
