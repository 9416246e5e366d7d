"""Dispatch and its consequences:
a unit and a hospital bound to a case, the crew told, units released."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import Conflict, InvalidInput
from dispatch import destination_check, duplicates, fleet
from dispatch.crew_tokens import issue_crew_token
from dispatch.destinations import Destinations
from dispatch.lifecycle import CaseAction
from dispatch.models import EmergencyCase, EmergencyDispatch, Unit
from dispatch.service import Actor, ConcurrentUpdate, commit_change, get_case, stage_action
from dispatch.settings import get_dispatch_settings
from dispatch.unit_status import UnitStatus
from facilities.models import Hospital
from messaging.outbox import queue_sms


class NoUnitAvailable(Conflict):
    """Nothing can be sent: no available unit can reach the scene."""

    code = "no_unit_available"
    title = "No unit available"


def crew_link(token: str) -> str:
    """The URL texted to the crew."""
    return f"{get_dispatch_settings().public_base_url.rstrip('/')}/crew/{token}"


async def active_dispatch(
    db_session: AsyncSession, case_id: uuid.UUID
) -> EmergencyDispatch | None:
    """The case's current (not completed) dispatch."""
    return await db_session.scalar(
        select(EmergencyDispatch)
        .where(EmergencyDispatch.case_id == case_id, EmergencyDispatch.completed_at.is_(None))
        .order_by(EmergencyDispatch.assigned_at.desc())
        .limit(1)
    )


async def dispatch_case(
    *,
    db_session: AsyncSession,
    redis: Redis,
    destinations: Destinations,
    case_id: uuid.UUID,
    hospital_id: uuid.UUID | None,
    unit_id: uuid.UUID | None,
    actor: Actor,
    secret: str,
    expected_version: int | None = None,
    reason: str | None = None,
) -> EmergencyCase:
    """Case -> dispatched, unit -> assigned, dispatch row, crew SMS: one transaction.

    Without ``unit_id`` the top recommended unit is sent; without ``hospital_id`` the top
    recommended destination. Two operators sending the same unit at once: the unit row is
    locked, so exactly one succeeds and the other gets 409 ``unit_unavailable``.
    """
    case = await get_case(db_session=db_session, case_id=case_id)
    if hospital_id is not None and await db_session.get(Hospital, hospital_id) is None:
        raise InvalidInput("no hospital with this id", field="hospital_id", code="unknown_hospital")
    # Also when the operator picked the unit: its ETA is recorded with the dispatch.
    recommended: list[dict[str, Any]] = await fleet.recommend_for_case(
        db_session=db_session, redis=redis, destinations=destinations, case=case
    )
    if unit_id is None:
        if not recommended:
            raise NoUnitAvailable("no available unit can reach this case; assign one by hand")
        unit_id = uuid.UUID(recommended[0]["unit_id"])
    if hospital_id is None:
        top = (case.recommendation or {}).get("hospitals") or []
        hospital_id = uuid.UUID(top[0]["hospital_id"]) if top else None
    unit = await fleet.get_unit(db_session=db_session, unit_id=unit_id, lock=True)
    if unit.status != UnitStatus.AVAILABLE.value:
        raise fleet.UnitUnavailable(
            f"{unit.call_sign} is {unit.status}", current_status=unit.status, field="unit_id"
        )
    pick = next((r for r in recommended if r["unit_id"] == str(unit_id)), None)
    overridden = await destination_check.check(db_session, case, hospital_id, reason)
    case = await stage_action(
        db_session=db_session,
        case_id=case_id,
        action=CaseAction.DISPATCH,
        actor=actor,
        expected_version=expected_version,
        changes={"destination_hospital_id": hospital_id},
        details={
            "hospital_id": str(hospital_id) if hospital_id else None,
            "unit_id": str(unit.id),
            "call_sign": unit.call_sign,
            **({"override": overridden, "reason": reason} if overridden else {}),
        },
    )
    await destination_check.alert(db_session, case, overridden, reason)
    fleet.move_unit(
        db_session, unit, UnitStatus.ASSIGNED, actor=actor.label, source="operator", case_id=case.id
    )
    unit.current_case_id = case.id
    dispatch = EmergencyDispatch(
        id=uuid.uuid4(),
        case_id=case.id,
        hospital_id=hospital_id,
        unit_id=unit.id,
        ambulance_ref=unit.call_sign,
        eta_minutes=round(pick["eta_seconds"] / 60, 1) if pick else None,
        status=UnitStatus.ASSIGNED.value,
        reply_code=f"{secrets.randbelow(10_000):04d}",
        recommendation={"units": recommended} if recommended else None,
        assigned_at=utcnow(),
    )
    db_session.add(dispatch)
    token = issue_crew_token(
        dispatch_id=dispatch.id, case_id=case.id, unit_id=unit.id, secret=secret
    )
    body = (
        f"LIFELINE {unit.call_sign}: {case.severity or 'untriaged'} {case.symptom_category}"
        f"{f' at {case.address}' if case.address else ''}. "
        f"Open {crew_link(token)} . No data? Reply {dispatch.reply_code} and a digit: "
        "1 en route, 2 on scene, 3 transporting, 4 at hospital, 5 handover complete."
    )
    for phone in unit.crew_phones:
        queue_sms(
            db_session, to_number=phone, body=body, purpose="crew_link", case_id=case.id,
            unit_id=unit.id,
        )
    try:
        await commit_change(db_session)
    except IntegrityError as exc:  # the partial unique index: the unit got another case first
        await db_session.rollback()
        raise fleet.UnitUnavailable(f"{unit.call_sign} was just assigned elsewhere") from exc
    return case


async def release_unit(
    db_session: AsyncSession, case: EmergencyCase, *, actor: str, source: str
) -> Unit | None:
    """Free the case's unit (case closed or cancelled) and complete its dispatch,
    unstaged commit."""
    dispatch = await active_dispatch(db_session, case.id)
    if dispatch is None:
        return None
    dispatch.completed_at = utcnow()
    dispatch.status = "completed"
    if dispatch.unit_id is None:
        return None
    unit = await fleet.get_unit(db_session=db_session, unit_id=dispatch.unit_id, lock=True)
    if unit.status != UnitStatus.AVAILABLE.value:
        fleet.move_unit(
            db_session, unit, UnitStatus.AVAILABLE, actor=actor, source=source, case_id=case.id
        )
    return unit


async def finish_case(
    *,
    db_session: AsyncSession,
    case_id: uuid.UUID,
    action: CaseAction,
    actor: Actor,
    reason: str | None = None,
    expected_version: int | None = None,
) -> EmergencyCase:
    """Arrive, close or cancel, keeping the unit in step (on scene; released when final)."""
    case = await stage_action(
        db_session=db_session,
        case_id=case_id,
        action=action,
        actor=actor,
        reason=reason,
        expected_version=expected_version,
    )
    with db_session.no_autoflush:
        if action in (CaseAction.CLOSE, CaseAction.CANCEL):
            await release_unit(db_session, case, actor=actor.label, source="operator")
            await duplicates.finish_linked(db_session, case, actor=actor)
        elif action is CaseAction.ARRIVE:
            dispatch = await active_dispatch(db_session, case.id)
            if dispatch is not None and dispatch.unit_id is not None:
                unit = await fleet.get_unit(db_session=db_session, unit_id=dispatch.unit_id)
                if unit.status in (UnitStatus.ASSIGNED.value, UnitStatus.EN_ROUTE.value):
                    fleet.move_unit(
                        db_session, unit, UnitStatus.ON_SCENE, actor=actor.label,
                        source="operator", case_id=case.id,
                    )
                    dispatch.status = UnitStatus.ON_SCENE.value
                    dispatch.on_scene_at = dispatch.on_scene_at or utcnow()
    await commit_change(db_session)
    return case


__all__ = ["ConcurrentUpdate", "NoUnitAvailable", "dispatch_case", "finish_case", "release_unit"]
