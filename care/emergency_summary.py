"""The emergency summary (blood group, allergies, conditions, contacts) for staff and crews.

Read under the emergency basis, not a treatment relationship, so every read is audited twice:
on the case timeline and in the patient's care access log, which the patient sees.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care.access import Access, Basis, Requester, summary_access
from care.models import DoctorHospitalAffiliation
from care.records import clinical_lists, log_access
from data.base import utcnow
from data.errors import NotFound
from dispatch import crew
from dispatch.models import CaseEvent, EmergencyCase
from identity.models import Patient


async def _summary(
    db_session: AsyncSession, patient: Patient, case: EmergencyCase
) -> dict[str, Any]:
    lists = await clinical_lists(db_session=db_session, patient_id=patient.id)
    return {
        "patient_id": str(patient.id),
        # An SOS naming a patient it was not raised by (a bystander, a mistake) may be the wrong
        # person: the crew is told, rather than trusting someone else's allergy list blindly.
        "raised_by_patient": patient.user_id is not None and case.created_by == patient.user_id,
        "full_name": patient.full_name,
        "dob": patient.dob.isoformat() if patient.dob else None,
        "blood_group": patient.blood_group,
        "allergies": [
            {k: a[k] for k in ("substance", "reaction", "severity")} for a in lists["allergies"]
        ],
        "conditions": [
            {k: c[k] for k in ("name", "code")} for c in lists["conditions"]
            if c["clinical_status"] == "active"
        ],
        "emergency_contacts": [
            {k: c[k] for k in ("name", "relationship", "phone")}
            for c in lists["emergency_contacts"]
        ],
    }


async def _case_patient(
    db_session: AsyncSession, case_id: uuid.UUID
) -> tuple[EmergencyCase, Patient]:
    case = await db_session.get(EmergencyCase, case_id)
    if case is None:
        raise NotFound(f"no emergency case {case_id}", code="case_not_found")
    patient = await db_session.get(Patient, case.patient_id) if case.patient_id else None
    if patient is None:
        raise NotFound("the caller of this case is not a registered patient",
                       code="no_registered_patient")
    return case, patient


def _audit_summary(
    db_session: AsyncSession, case: EmergencyCase, patient: Patient, *,
    user_id: uuid.UUID | None, actor: str,
) -> None:
    """Emergency access is audited twice: on the case timeline and in the care access log."""
    now = utcnow()
    db_session.add(
        CaseEvent(
            case_id=case.id, action="phi_access", from_status=case.status, to_status=case.status,
            actor_user_id=user_id, actor=actor, reason="emergency summary",
            details={"kind": "emergency_summary", "patient_id": str(patient.id)}, at=now,
        )
    )
    log_access(db_session=db_session, requester_user=user_id, actor=actor,
               patient_id=patient.id,
               kind="emergency_summary", access=Access(Basis.EMERGENCY, "SOS"), case_id=case.id)


async def emergency_summary(
    *,
    db_session: AsyncSession, requester: Requester, case_id: uuid.UUID
) -> dict[str, Any]:
    """Blood group, allergies, conditions and contacts of the SOS patient, for staff."""
    case, patient = await _case_patient(db_session, case_id)
    hospitals: frozenset[uuid.UUID] = frozenset()
    if requester.doctor_id is not None:
        hospitals = frozenset(await db_session.scalars(
            select(DoctorHospitalAffiliation.hospital_id).where(
                DoctorHospitalAffiliation.doctor_id == requester.doctor_id)
        ))
    summary_access(requester, destination_hospital_id=case.destination_hospital_id,
                   doctor_hospitals=hospitals)
    result = {"case_id": str(case.id), **await _summary(db_session, patient, case)}
    _audit_summary(db_session, case, patient, user_id=requester.user_id, actor=requester.label)
    await db_session.commit()
    return result


async def crew_summary(*, db_session: AsyncSession, token: str, secret: str) -> dict[str, Any]:
    """The same summary for the crew of a live dispatch, through their signed crew link."""
    context = await crew.open_link(db_session=db_session, token=token, secret=secret)
    case, patient = await _case_patient(db_session, context.case.id)
    result = {"case_id": str(case.id), **await _summary(db_session, patient, case)}
    _audit_summary(db_session, case, patient, user_id=None, actor=f"crew:{context.unit.call_sign}")
    await db_session.commit()
    return result
