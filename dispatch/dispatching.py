"""Dispatch and its consequences:
a unit and a hospital bound to a case, the crew told, units released."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import Conflict, InvalidInput
from dispatch import destination_check, fleet
from dispatch.case_events import Actor
from dispatch.crew_tokens import issue_crew_token
from dispatch.destinations import Destinations
from dispatch.lifecycle import CaseAction
from dispatch.models import EmergencyCase, EmergencyDispatch, Unit
from dispatch.ports import LivePositions
from dispatch.response_plans import choose_units, plan_for
from dispatch.service import ConcurrentUpdate, commit_change, get_case, stage_action
from dispatch.settings import DispatchSettings
from dispatch.unit_status import UnitStatus
from facilities.models import Hospital
from messaging.outbox import queue_sms


class NoUnitAvailable(Conflict):
    """Nothing can be sent: no available unit can reach the scene."""

    code = "no_unit_available"
    title = "No unit available"


def crew_link(token: str, *, public_base_url: str) -> str:
    """The URL texted to the crew."""
    return f"{public_base_url.rstrip('/')}/crew/{token}"


async def active_dispatch(
    *,
    db_session: AsyncSession, case_id: uuid.UUID
) -> EmergencyDispatch | None:
    """The case's lead (not completed) dispatch: its only one, or the first of a response."""
    return await db_session.scalar(
        select(EmergencyDispatch)
        .where(EmergencyDispatch.case_id == case_id, EmergencyDispatch.completed_at.is_(None))
        .order_by(EmergencyDispatch.position, EmergencyDispatch.assigned_at)
        .limit(1)
    )


async def active_dispatches(
    *,
    db_session: AsyncSession, case_id: uuid.UUID
) -> list[EmergencyDispatch]:
    """Every unit still working the case, lead first."""
    return list(
        await db_session.scalars(
            select(EmergencyDispatch)
            .where(EmergencyDispatch.case_id == case_id, EmergencyDispatch.completed_at.is_(None))
            .order_by(EmergencyDispatch.position, EmergencyDispatch.assigned_at)
        )
    )


async def lock_available_units(
    *,
    db_session: AsyncSession, unit_ids: list[uuid.UUID]
) -> list[Unit]:
    """Lock the units (in id order, so two overlapping requests never deadlock) and check every
    one is free; any that is not: 409 ``unit_unavailable`` naming them, and nothing is bound."""
    locked = {
        unit_id: await fleet.get_unit(db_session=db_session, unit_id=unit_id, lock=True)
        for unit_id in sorted(set(unit_ids))
    }
    taken = [u for u in locked.values() if u.status != UnitStatus.AVAILABLE.value]
    if taken:
        names = ", ".join(f"{u.call_sign} is {u.status}" for u in taken)
        raise fleet.UnitUnavailable(
            f"not dispatched: {names}", field="unit_ids" if len(unit_ids) > 1 else "unit_id",
            unavailable=[str(u.id) for u in taken], current_status=taken[0].status,
        )
    return [locked[unit_id] for unit_id in unit_ids]


def _bind_unit(
    db_session: AsyncSession,
    *,
    case: EmergencyCase,
    unit: Unit,
    hospital_id: uuid.UUID | None,
    recommended: list[dict[str, Any]],
    position: int,
    plan_slot: str | None,
    actor: Actor,
    secret: str,
    settings: DispatchSettings,
) -> EmergencyDispatch:
    """One unit's share of a dispatch: assigned, its own dispatch row, crew link and SMS."""
    pick = next((r for r in recommended if r["unit_id"] == str(unit.id)), None)
    fleet.move_unit(
        db_session=db_session, unit=unit, target=UnitStatus.ASSIGNED, actor=actor.label,
        source="operator", case_id=case.id
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
        recommendation=(
            {"units": recommended[: settings.recommended_units]}
            if recommended else None
        ),
        assigned_at=utcnow(),
        position=position,
        plan_slot=plan_slot,
    )
    db_session.add(dispatch)
    token = issue_crew_token(
        dispatch_id=dispatch.id, case_id=case.id, unit_id=unit.id, secret=secret
    )
    body = (
        f"LIFELINE {unit.call_sign}: {case.severity or 'untriaged'} {case.symptom_category}"
        f"{f' at {case.address}' if case.address else ''}. "
        f"Open {crew_link(token, public_base_url=settings.public_base_url)} . "
        f"No data? Reply {dispatch.reply_code} and a digit: "
        "1 en route, 2 on scene, 3 transporting, 4 at hospital, 5 handover complete."
    )
    for phone in unit.crew_phones:
        queue_sms(
            db_session, to_number=phone, body=body, purpose="crew_link", case_id=case.id,
            unit_id=unit.id,
        )
    return dispatch


async def dispatch_case(
    *,
    db_session: AsyncSession,
    live_fleet: LivePositions,
    destinations: Destinations,
    case_id: uuid.UUID,
    hospital_id: uuid.UUID | None,
    unit_id: uuid.UUID | None,
    actor: Actor,
    secret: str,
    expected_version: int | None = None,
    unit_ids: list[uuid.UUID] | None = None,
    reason: str | None = None,
    settings: DispatchSettings,
) -> EmergencyCase:
    """Case -> dispatched, units -> assigned, a dispatch row and crew SMS per unit: one
    transaction.

    ``unit_ids`` sends several units (a response plan) all or none: any one taken is a 409 and
    nothing is bound. Without units the top recommended unit is sent; without ``hospital_id``
    the top recommended destination. Two operators sending the same unit at once: the unit row
    is locked, so exactly one succeeds and the other gets 409 ``unit_unavailable``.
    """
    case = await get_case(db_session=db_session, case_id=case_id)
    if hospital_id is not None and await db_session.get(Hospital, hospital_id) is None:
        raise InvalidInput("no hospital with this id", field="hospital_id", code="unknown_hospital")
    # Also when the operator picked the units: their ETAs are recorded with the dispatch.
    recommended: list[dict[str, Any]] = await fleet.recommend_for_case(
        db_session=db_session, live_fleet=live_fleet, destinations=destinations, case=case,
        k=fleet.ROUTED_AT_MOST, settings=settings,
    )
    if unit_ids is None:
        if unit_id is None:
            if not recommended:
                raise NoUnitAvailable("no available unit can reach this case; assign one by hand")
            unit_id = uuid.UUID(recommended[0]["unit_id"])
        unit_ids = [unit_id]
    if hospital_id is None:
        top = (case.recommendation or {}).get("hospitals") or []
        hospital_id = uuid.UUID(top[0]["hospital_id"]) if top else None
    units = await lock_available_units(db_session=db_session, unit_ids=unit_ids)
    plan = choose_units(plan_for(case.symptom_category, case.severity), recommended)
    slots = {u["unit_id"]: u["slot"] for u in plan["units"]} if len(units) > 1 else {}
    overridden = await destination_check.check(db_session=db_session, case=case,
                                               hospital_id=hospital_id, reason=reason)
    case = await stage_action(
        db_session=db_session,
        case_id=case_id,
        action=CaseAction.DISPATCH,
        actor=actor,
        expected_version=expected_version,
        changes={"destination_hospital_id": hospital_id},
        details={
            "hospital_id": str(hospital_id) if hospital_id else None,
            "unit_id": str(units[0].id),
            "call_sign": units[0].call_sign,
            **({"unit_ids": [str(u.id) for u in units],
                "call_signs": [u.call_sign for u in units]} if len(units) > 1 else {}),
            **({"override": overridden, "reason": reason} if overridden else {}),
        },
    )
    await destination_check.alert(db_session=db_session, case=case, found=overridden, reason=reason)
    for position, unit in enumerate(units):
        _bind_unit(
            db_session, case=case, unit=unit, hospital_id=hospital_id, recommended=recommended,
            position=position, plan_slot=slots.get(str(unit.id)), actor=actor, secret=secret,
            settings=settings,
        )
    try:
        await commit_change(db_session=db_session)
    except IntegrityError as exc:  # the partial unique index: a unit got another case first
        await db_session.rollback()
        raise fleet.UnitUnavailable("a unit was just assigned elsewhere; nothing was sent") from exc
    return case


async def release_unit(
    *,
    db_session: AsyncSession, case: EmergencyCase, actor: str, source: str
) -> Unit | None:
    """Free every unit of the case (closed or cancelled) and complete their dispatches, unstaged
    commit; returns the lead unit."""
    lead = None
    for dispatch in await active_dispatches(db_session=db_session, case_id=case.id):
        dispatch.completed_at = utcnow()
        dispatch.status = "completed"
        if dispatch.unit_id is None:
            continue
        unit = await fleet.get_unit(db_session=db_session, unit_id=dispatch.unit_id, lock=True)
        if unit.status != UnitStatus.AVAILABLE.value:
            fleet.move_unit(
                db_session=db_session, unit=unit, target=UnitStatus.AVAILABLE, actor=actor,
                source=source,
                case_id=case.id,
            )
        lead = lead or unit
    return lead


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
            await release_unit(db_session=db_session, case=case, actor=actor.label,
                               source="operator")
        elif action is CaseAction.ARRIVE:
            dispatches = await active_dispatches(db_session=db_session, case_id=case.id)
            # One unit: it is the one on scene. Several: each crew reports its own arrival.
            dispatch = dispatches[0] if len(dispatches) == 1 else None
            if dispatch is not None and dispatch.unit_id is not None:
                unit = await fleet.get_unit(db_session=db_session, unit_id=dispatch.unit_id)
                if unit.status in (UnitStatus.ASSIGNED.value, UnitStatus.EN_ROUTE.value):
                    fleet.move_unit(
                        db_session=db_session, unit=unit, target=UnitStatus.ON_SCENE,
                        actor=actor.label,
                        source="operator", case_id=case.id,
                    )
                    dispatch.status = UnitStatus.ON_SCENE.value
                    dispatch.on_scene_at = dispatch.on_scene_at or utcnow()
    await commit_change(db_session=db_session)
    return case


__all__ = [
    "ConcurrentUpdate",
    "NoUnitAvailable",
    "active_dispatches",
    "dispatch_case",
    "finish_case",
    "release_unit",
]
