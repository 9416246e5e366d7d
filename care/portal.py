"""What the doctor portal and the hospital admin panel read in one request each."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care import availability
from care.access import Requester, require_manager
from care.models import Doctor, DoctorHospitalAffiliation, DoctorSchedule
from care.ports import Presence
from data.errors import NotFound
from facilities.models import Department, Hospital
from identity.models import Patient


def _schedule_view(line: DoctorSchedule) -> dict[str, Any]:
    return {"id": str(line.id), "doctor_id": str(line.doctor_id),
            "hospital_id": str(line.hospital_id), "weekday": line.weekday,
            "start_time": line.start_time.isoformat(timespec="minutes"),
            "end_time": line.end_time.isoformat(timespec="minutes"),
            "slot_minutes": line.slot_minutes}


async def _schedules(db_session: AsyncSession, *conditions: Any) -> list[DoctorSchedule]:
    rows = await db_session.scalars(
        select(DoctorSchedule).where(*conditions)
        .order_by(DoctorSchedule.weekday, DoctorSchedule.start_time)
    )
    return list(rows)


async def my_doctor_profile(
    *, db_session: AsyncSession, presence: Presence, requester: Requester
) -> dict[str, Any]:
    """The signed-in doctor: profile, live state, every affiliation (accepted or not) and the
    weekly schedule per hospital, so the portal can offer "accept" and show the week."""
    if requester.doctor_id is None:
        raise NotFound("no doctor profile is linked to your account", code="no_doctor_profile")
    doctor = await availability.get_doctor(db_session=db_session, doctor_id=requester.doctor_id)
    state = (await availability.live_states(presence, [doctor.id]))[doctor.id]
    links = await db_session.execute(
        select(DoctorHospitalAffiliation, Hospital.name, Department.name)
        .join(Hospital, Hospital.id == DoctorHospitalAffiliation.hospital_id)
        .join(Department, Department.id == DoctorHospitalAffiliation.department_id)
        .where(DoctorHospitalAffiliation.doctor_id == doctor.id)
        .order_by(Hospital.name, Department.name)
    )
    lines = await _schedules(db_session, DoctorSchedule.doctor_id == doctor.id)
    return {
        "id": str(doctor.id), "full_name": doctor.full_name, "specialty": doctor.specialty,
        "license_no": doctor.license_no, "is_verified": doctor.is_verified,
        "languages": list(doctor.languages or []), "availability": state,
        "affiliations": [
            {"hospital_id": str(link.hospital_id), "hospital_name": hospital,
             "department_id": str(link.department_id), "department": department,
             "is_primary": link.is_primary,
             "accepted_at": link.accepted_at.isoformat() if link.accepted_at else None}
            for link, hospital, department in links
        ],
        "schedules": [_schedule_view(line) for line in lines],
    }


async def hospital_roster(
    *, db_session: AsyncSession, presence: Presence, requester: Requester, hospital_id: uuid.UUID
) -> list[dict[str, Any]]:
    """This hospital's attached doctors (accepted or pending), their live state and their
    weekly schedule here: the admin's schedules overview."""
    require_manager(requester, hospital_id)
    if await db_session.get(Hospital, hospital_id) is None:
        raise NotFound(f"no hospital {hospital_id}", code="hospital_not_found")
    rows = (await db_session.execute(
        select(DoctorHospitalAffiliation, Doctor, Department.name)
        .join(Doctor, Doctor.id == DoctorHospitalAffiliation.doctor_id)
        .join(Department, Department.id == DoctorHospitalAffiliation.department_id)
        .where(DoctorHospitalAffiliation.hospital_id == hospital_id)
        .order_by(Doctor.full_name, Doctor.id, Department.name)
    )).all()
    states = await availability.live_states(presence, {doctor.id for _, doctor, _ in rows})
    lines = await _schedules(db_session, DoctorSchedule.hospital_id == hospital_id)
    return [
        {"doctor_id": str(doctor.id), "full_name": doctor.full_name,
         "specialty": doctor.specialty, "is_verified": doctor.is_verified,
         "department_id": str(link.department_id), "department": department,
         "is_primary": link.is_primary,
         "accepted_at": link.accepted_at.isoformat() if link.accepted_at else None,
         "availability": states[doctor.id],
         "schedules": [_schedule_view(line) for line in lines if line.doctor_id == doctor.id]}
        for link, doctor, department in rows
    ]


async def patient_names(
    *,
    db_session: AsyncSession, patient_ids: Iterable[uuid.UUID | str]
) -> dict[str, str]:
    """Names for an agenda the caller is already allowed to read (their own or their desk's)."""
    ids = {uuid.UUID(str(i)) for i in patient_ids}
    if not ids:
        return {}
    rows = await db_session.execute(
        select(Patient.id, Patient.full_name).where(Patient.id.in_(ids))
    )
    return {str(pid): name for pid, name in rows}
