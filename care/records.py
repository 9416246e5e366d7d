"""Patient profile, contacts, allergies, conditions and medical records, behind the access rules.

Every break-glass read and every emergency-summary read leaves a row in the care access log.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from care.access import Access, Basis, Requester, may_write_record, record_access
from care.models import (
    Appointment,
    CareAccessEvent,
    Doctor,
    DoctorHospitalAffiliation,
    MedicalRecord,
    PatientAllergy,
    PatientCondition,
    PatientEmergencyContact,
)
from care.schemas import AllergyCreate, ConditionCreate, ContactCreate, ProfileUpdate, RecordCreate
from care.settings import CareSettings
from data.base import utcnow
from data.errors import Conflict, Forbidden, NotFound
from data.events import BREAK_GLASS, BreakGlassRead
from data.outbox import record_event
from dispatch.models import EmergencyCase
from identity.models import Patient

log = logging.getLogger("lifeline.care.records")


class PatientNotFound(NotFound):
    code = "patient_not_found"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def profile_view(patient: Patient) -> dict[str, Any]:
    """The patient's own profile (the encrypted national id never leaves)."""
    return {
        "id": str(patient.id), "full_name": patient.full_name, "dob": _iso(patient.dob),
        "gender": patient.gender, "blood_group": patient.blood_group, "address": patient.address,
        "city": patient.city, "province": patient.province, "phone": patient.phone,
        "created_at": _iso(patient.created_at),
    }


def _own(requester: Requester) -> uuid.UUID:
    if "patient" not in requester.roles:
        raise Forbidden("only patients have a profile here", code="role_forbidden")
    if requester.patient_id is None:
        raise PatientNotFound("you have no patient profile yet; PUT one first")
    return requester.patient_id


async def get_profile(*, db_session: AsyncSession, requester: Requester) -> Patient:
    """The caller's own profile."""
    patient = await db_session.get(Patient, _own(requester))
    assert patient is not None
    return patient


async def put_profile(
    *,
    db_session: AsyncSession, requester: Requester, body: ProfileUpdate
) -> Patient:
    """Create or replace the caller's own profile."""
    if "patient" not in requester.roles:
        raise Forbidden("only patients have a profile here", code="role_forbidden")
    patient = None
    if requester.patient_id is not None:
        patient = await db_session.get(Patient, requester.patient_id, with_for_update=True)
    if patient is None:
        patient = Patient(id=uuid.uuid4(), user_id=requester.user_id)
        db_session.add(patient)
    for name, value in body.model_dump().items():
        setattr(patient, name, value)
    try:
        await db_session.commit()
    except IntegrityError as exc:  # two first PUTs racing: the other one created the profile
        await db_session.rollback()
        raise Conflict("your profile was just created; retry", code="concurrent_update") from exc
    return patient


async def add_contact(
    *,
    db_session: AsyncSession, requester: Requester, body: ContactCreate
) -> PatientEmergencyContact:
    """Someone to call for the patient."""
    contact = PatientEmergencyContact(patient_id=_own(requester), **body.model_dump())
    db_session.add(contact)
    await db_session.commit()
    return contact


async def remove_contact(
    *,
    db_session: AsyncSession, requester: Requester, contact_id: uuid.UUID
) -> None:
    """Drop one of the caller's contacts (404 if not theirs)."""
    result = await db_session.execute(
        delete(PatientEmergencyContact).where(
            PatientEmergencyContact.id == contact_id,
            PatientEmergencyContact.patient_id == _own(requester),
        )
    )
    if not result.rowcount:
        raise NotFound(f"no contact {contact_id}", code="contact_not_found")
    await db_session.commit()


async def add_allergy(
    *,
    db_session: AsyncSession, requester: Requester, body: AllergyCreate
) -> PatientAllergy:
    """A patient records an allergy."""
    allergy = PatientAllergy(patient_id=_own(requester), **body.model_dump())
    db_session.add(allergy)
    await db_session.commit()
    return allergy


async def add_condition(
    *,
    db_session: AsyncSession, requester: Requester, body: ConditionCreate
) -> PatientCondition:
    """A patient records a condition."""
    condition = PatientCondition(patient_id=_own(requester), **body.model_dump())
    db_session.add(condition)
    await db_session.commit()
    return condition


async def treats(
    *,
    db_session: AsyncSession, doctor_id: uuid.UUID | None, patient_id: uuid.UUID,
    window_hours: int,
) -> bool:
    """A real treatment relationship: a verified doctor, at a hospital whose affiliation the
    doctor accepted, with an encounter of this patient there within the window (an appointment,
    not cancelled or missed, from ``window`` before it starts until ``window`` after it ends;
    or an emergency case bound there, raised within ``window``). Anything else is break-glass.
    """
    if doctor_id is None:
        return False
    window = timedelta(hours=window_hours)
    now = utcnow()
    accepted = select(DoctorHospitalAffiliation.hospital_id).where(
        DoctorHospitalAffiliation.doctor_id == doctor_id,
        DoctorHospitalAffiliation.accepted_at.is_not(None),
    )
    appointment = exists().where(
        Appointment.doctor_id == doctor_id,
        Appointment.patient_id == patient_id,
        Appointment.status.not_in(("cancelled", "no_show")),
        Appointment.hospital_id.in_(accepted),
        Appointment.scheduled_start - window <= now,
        Appointment.scheduled_end + window >= now,
    )
    case = exists().where(
        EmergencyCase.patient_id == patient_id,
        EmergencyCase.destination_hospital_id.in_(accepted),
        EmergencyCase.raised_at >= now - window,
    )
    verified = exists().where(Doctor.id == doctor_id, Doctor.is_verified.is_(True))
    return bool(await db_session.scalar(select(and_(verified, or_(appointment, case)))))


def log_access(
    *,
    db_session: AsyncSession, requester_user: uuid.UUID | None, actor: str,
    patient_id: uuid.UUID, kind: str, access: Access, case_id: uuid.UUID | None = None,
) -> None:
    """One row in the care access log, in the caller's transaction."""
    db_session.add(
        CareAccessEvent(
            user_id=requester_user, actor=actor, patient_id=patient_id, case_id=case_id,
            kind=kind, basis=access.basis.value, reason=access.reason, at=utcnow(),
        )
    )


def alert_break_glass(
    *,
    db_session: AsyncSession, requester: Requester, patient_id: uuid.UUID, kind: str
) -> None:
    """A chart opened by break-glass is an alert for the dispatch room (operators and super
    admins see it live), and a warning in the log, besides its priority audit row."""
    log.warning("break-glass read of a patient's %s by %s", kind, requester.label)
    payload: BreakGlassRead = {
        "action": "break_glass", "patient_id": str(patient_id), "kind": kind,
        "actor": requester.label, "case_id": None, "status": None,
    }
    record_event(
        db_session, channel=BREAK_GLASS.channel, event_type=BREAK_GLASS.event_type,
        aggregate_type="patient", aggregate_id=patient_id, payload=payload,
    )


async def authorise_patient_read(
    *,
    db_session: AsyncSession, requester: Requester, patient_id: uuid.UUID, 
    break_glass_reason: str | None, kind: str, settings: CareSettings,
) -> Access:
    """Apply the record rule; a break-glass read is logged and committed before data is shown."""
    if await db_session.get(Patient, patient_id) is None:
        raise PatientNotFound(f"no patient {patient_id}")
    access = record_access(
        requester, patient_id,
        treats=await treats(db_session=db_session, doctor_id=requester.doctor_id,
                            patient_id=patient_id,
                            window_hours=settings.treatment_window_hours),
        break_glass_reason=break_glass_reason, min_reason=settings.break_glass_min_reason,
    )
    if access.basis is not Basis.SELF:
        log_access(db_session=db_session, requester_user=requester.user_id, actor=requester.label,
                   patient_id=patient_id, kind=kind, access=access)
        if access.flagged:
            alert_break_glass(db_session=db_session, requester=requester, patient_id=patient_id,
                              kind=kind)
        await db_session.commit()
    return access


async def clinical_lists(*, db_session: AsyncSession, patient_id: uuid.UUID) -> dict[str, Any]:
    """Allergies, conditions and contacts of a patient."""
    allergies = await db_session.scalars(
        select(PatientAllergy).where(PatientAllergy.patient_id == patient_id)
        .order_by(PatientAllergy.recorded_at)
    )
    conditions = await db_session.scalars(
        select(PatientCondition).where(PatientCondition.patient_id == patient_id)
        .order_by(PatientCondition.recorded_at)
    )
    contacts = await db_session.scalars(
        select(PatientEmergencyContact).where(PatientEmergencyContact.patient_id == patient_id)
        .order_by(PatientEmergencyContact.name)
    )
    return {
        "allergies": [
            {"id": str(a.id), "substance": a.substance, "reaction": a.reaction,
             "severity": a.severity} for a in allergies
        ],
        "conditions": [
            {"id": str(c.id), "name": c.name, "code": c.code, "clinical_status": c.clinical_status}
            for c in conditions
        ],
        "emergency_contacts": [
            {"id": str(c.id), "name": c.name, "relationship": c.relationship, "phone": c.phone}
            for c in contacts
        ],
    }


def record_view(record: MedicalRecord) -> dict[str, Any]:
    return {
        "id": str(record.id), "patient_id": str(record.patient_id),
        "doctor_id": str(record.doctor_id) if record.doctor_id else None,
        "record_type": record.record_type, "payload": record.payload_json,
        "created_at": _iso(record.created_at),
    }


async def read_records(
    *,
    db_session: AsyncSession, requester: Requester, patient_id: uuid.UUID,
    settings: CareSettings, break_glass_reason: str | None = None,
) -> dict[str, Any]:
    """The patient's chart: records newest first, allergies, conditions and contacts."""
    access = await authorise_patient_read(
        db_session=db_session, requester=requester, patient_id=patient_id,
        break_glass_reason=break_glass_reason, kind="records",
        settings=settings,
    )
    rows = await db_session.scalars(
        select(MedicalRecord).where(MedicalRecord.patient_id == patient_id)
        .order_by(MedicalRecord.created_at.desc()).limit(500)
    )
    patient = await db_session.get(Patient, patient_id)
    return {
        "patient_id": str(patient_id),
        # Who the chart belongs to, so a doctor never writes into the wrong patient's record.
        "patient": {"full_name": patient.full_name, "dob": _iso(patient.dob),
                    "gender": patient.gender, "blood_group": patient.blood_group},
        "access": {"basis": access.basis.value, "flagged": access.flagged},
        "records": [record_view(r) for r in rows],
        **await clinical_lists(db_session=db_session, patient_id=patient_id),
    }


async def add_record(
    *,
    db_session: AsyncSession,
    requester: Requester,
    patient_id: uuid.UUID,
    body: RecordCreate,
    settings: CareSettings,
) -> MedicalRecord:
    """A treating doctor adds a visit note, lab result, prescription or discharge letter."""
    if await db_session.get(Patient, patient_id) is None:
        raise PatientNotFound(f"no patient {patient_id}")
    treating = await treats(db_session=db_session, doctor_id=requester.doctor_id,
                            patient_id=patient_id,
                            window_hours=settings.treatment_window_hours)
    if not may_write_record(requester, treats=treating):
        raise Forbidden(
            "only a treating doctor adds to this record", code="no_treatment_relationship"
        )
    record = MedicalRecord(patient_id=patient_id, doctor_id=requester.doctor_id,
                           record_type=body.record_type, payload_json=body.payload)
    db_session.add(record)
    await db_session.commit()
    return record


async def access_log(
    *,
    db_session: AsyncSession, requester: Requester, patient_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Who read this patient's data on what basis: the patient themself or a super admin."""
    if await db_session.get(Patient, patient_id) is None:
        raise NotFound("no such patient", code="patient_not_found")
    if requester.patient_id != patient_id and "super_admin" not in requester.roles:
        raise Forbidden("only the patient or a super admin sees this log", code="not_your_patient")
    rows = await db_session.scalars(
        select(CareAccessEvent).where(CareAccessEvent.patient_id == patient_id)
        .order_by(CareAccessEvent.at.desc()).limit(500)
    )
    return [
        {"at": _iso(r.at), "actor": r.actor, "kind": r.kind, "basis": r.basis,
         "reason": r.reason, "flagged": r.basis == Basis.BREAK_GLASS.value,
         "case_id": str(r.case_id) if r.case_id else None}
        for r in rows
    ]


async def read_my_records(
    *,
    db_session: AsyncSession, requester: Requester, settings: CareSettings
) -> dict[str, Any]:
    """The caller's own chart."""
    return await read_records(db_session=db_session, requester=requester,
                              patient_id=_own(requester), settings=settings)
