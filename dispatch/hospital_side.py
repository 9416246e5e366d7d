"""The receiving hospital: incoming cases, acknowledgement, capacity changes that hit live cases."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import Conflict, Forbidden, InvalidInput
from dispatch.alerts import raise_alert, resolve_alert
from dispatch.case_events import Actor, add_case_event
from dispatch.dispatching import active_dispatches
from dispatch.lifecycle import CaseStatus
from dispatch.models import EmergencyCase, EmergencyDispatch, Unit
from dispatch.service import commit_change, get_case
from facilities import service as facilities_service
from facilities.models import Hospital
from facilities.schemas import CapacityUpdate
from identity.models import Patient
from messaging.outbox import queue_sms

EN_ROUTE_TO_HOSPITAL = (CaseStatus.DISPATCHED.value, CaseStatus.ARRIVED.value)


async def update_capacity(
    *,
    db_session: AsyncSession, hospital_id: uuid.UUID, update: CapacityUpdate, actor: str
) -> Hospital:
    """Report capacity; cases already heading there are flagged for the operator to redirect."""
    hospital = await facilities_service.update_capacity(
        db_session=db_session, hospital_id=hospital_id, update=update, actor=actor
    )
    await flag_cases_bound_for(db_session=db_session, hospital=hospital)
    await db_session.commit()
    return hospital


async def flag_cases_bound_for(*, db_session: AsyncSession, hospital: Hospital) -> None:
    """A hospital no longer open: alert every case heading there (staged, the caller commits)."""
    if hospital.ed_status == "open":
        return
    cases = (
        await db_session.execute(
            select(EmergencyCase).where(
                EmergencyCase.destination_hospital_id == hospital.id,
                EmergencyCase.status.in_(EN_ROUTE_TO_HOSPITAL),
            )
        )
    ).scalars()
    for case in cases:
        await raise_alert(
            db_session=db_session, case=case, kind="destination_diverting", level="red",
            message=f"{hospital.name} is now {hospital.ed_status}: redirect the unit",
        )


def _is_admin_of(claims_hospital: uuid.UUID | None, hospital_id: uuid.UUID | None) -> bool:
    return hospital_id is not None and claims_hospital == hospital_id


async def acknowledge(
    *,
    db_session: AsyncSession, case_id: uuid.UUID, hospital_id: uuid.UUID | None, actor: Actor
) -> EmergencyDispatch:
    """The destination hospital confirms it expects the patient; only that hospital may."""
    case = await get_case(db_session=db_session, case_id=case_id)
    dispatches = await active_dispatches(db_session=db_session, case_id=case.id)
    if not dispatches or not _is_admin_of(hospital_id, case.destination_hospital_id):
        raise Forbidden("this case is not bound for your hospital", code="not_your_case")
    dispatch = dispatches[0]
    if dispatch.acknowledged_at is None:
        now = utcnow()
        for each in dispatches:  # the hospital expects the patient, whichever unit brings them
            each.acknowledged_at = each.acknowledged_at or now
            each.acknowledged_by = each.acknowledged_by or actor.user_id
        add_case_event(db_session=db_session, case=case, action="acknowledge",
                       from_status=case.status,
                       actor=actor, reason=None, at=dispatch.acknowledged_at,
                       details={"hospital_id": str(hospital_id)})
        await db_session.commit()
    return dispatch


async def redirect(
    *,
    db_session: AsyncSession, case_id: uuid.UUID, hospital_id: uuid.UUID, actor: Actor,
    expected_version: int | None = None,
) -> EmergencyCase:
    """Send a dispatched case to another hospital; the crew is told by SMS."""
    case = await get_case(db_session=db_session, case_id=case_id)
    if case.status not in EN_ROUTE_TO_HOSPITAL:
        raise Conflict(f"a {case.status} case has no destination to change",
                       code="invalid_transition", current_status=case.status)
    if expected_version is not None and case.version != expected_version:
        from data.errors import PreconditionFailed

        raise PreconditionFailed(f"case is at version {case.version}", current_version=case.version)
    hospital = await db_session.get(Hospital, hospital_id)
    if hospital is None:
        raise InvalidInput("no hospital with this id", field="hospital_id", code="unknown_hospital")
    if hospital.ed_status != "open":
        raise Conflict(f"{hospital.name} is {hospital.ed_status}", code="hospital_not_open")
    previous = case.destination_hospital_id
    case.destination_hospital_id = hospital.id
    for dispatch in await active_dispatches(db_session=db_session,
                                            case_id=case.id):  # every unit of the case
        dispatch.hospital_id = hospital.id
        dispatch.acknowledged_at = None
        dispatch.acknowledged_by = None
        unit = await db_session.get(Unit, dispatch.unit_id) if dispatch.unit_id else None
        for phone in (unit.crew_phones if unit else []):
            queue_sms(db_session, to_number=phone, purpose="crew_redirect", case_id=case.id,
                      unit_id=unit.id, body=f"LIFELINE {unit.call_sign}: new destination "
                      f"{hospital.name}. Reload your crew link.")
    await resolve_alert(db_session=db_session, case_id=case.id, kind="destination_diverting")
    add_case_event(db_session=db_session, case=case, action="redirect", from_status=case.status,
                   actor=actor,
                   reason=None, at=utcnow(),
                   details={"from_hospital_id": str(previous) if previous else None,
                            "to_hospital_id": str(hospital.id)})
    await commit_change(db_session=db_session)
    return case


async def incoming(*, db_session: AsyncSession, hospital_id: uuid.UUID) -> list[dict[str, Any]]:
    """Cases heading to this hospital, with an ETA estimate and the patient summary if known."""
    rows = (
        await db_session.execute(
            select(EmergencyCase, EmergencyDispatch)
            .join(EmergencyDispatch, EmergencyDispatch.case_id == EmergencyCase.id)
            .where(
                EmergencyCase.destination_hospital_id == hospital_id,
                EmergencyCase.status.in_(EN_ROUTE_TO_HOSPITAL),
                EmergencyDispatch.completed_at.is_(None),
            )
            .order_by(EmergencyCase.raised_at, EmergencyDispatch.position)
        )
    ).all()
    # A case with several units is one incoming patient: shown with the unit bringing them
    # (the one transporting, else the lead) and the call signs of all of them.
    by_case: dict[uuid.UUID, list[tuple[EmergencyCase, EmergencyDispatch]]] = {}
    for case, dispatch in rows:
        by_case.setdefault(case.id, []).append((case, dispatch))
    result = []
    for pairs in by_case.values():
        case = pairs[0][0]
        dispatch = next(
            (d for _, d in pairs if d.transporting_at is not None), pairs[0][1]
        )
        hospital_eta = next(
            (h["eta_seconds"] for h in (case.recommendation or {}).get("hospitals", [])
             if h["hospital_id"] == str(hospital_id)),
            None,
        )
        eta_at = None
        if hospital_eta is not None:
            if dispatch.transporting_at is not None:
                eta_at = dispatch.transporting_at + timedelta(seconds=hospital_eta)
            elif dispatch.eta_minutes is not None:
                eta_at = dispatch.assigned_at + timedelta(
                    minutes=dispatch.eta_minutes + 15, seconds=hospital_eta
                )
        patient = await db_session.get(Patient, case.patient_id) if case.patient_id else None
        result.append(
            {
                "case_id": str(case.id),
                "status": case.status,
                "severity": case.severity,
                "symptom_category": case.symptom_category,
                "address": case.address,
                "unit": dispatch.ambulance_ref,
                "unit_status": dispatch.status,
                "units": [d.ambulance_ref for _, d in pairs],
                "eta_at": eta_at.isoformat() if eta_at else None,
                "acknowledged_at": (
                    dispatch.acknowledged_at.isoformat() if dispatch.acknowledged_at else None
                ),
                "patient": (
                    {"full_name": patient.full_name, "dob": patient.dob.isoformat()
                     if patient.dob else None, "blood_group": patient.blood_group}
                    if patient else None
                ),
            }
        )
    return result
