"""Doctors, departments, affiliations and weekly schedules; search and the hospital dashboard."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from care import availability
from care.access import Requester, may_see_hospital_metrics, require_manager
from care.models import (
    HOLDING_STATUSES,
    Appointment,
    Doctor,
    DoctorHospitalAffiliation,
    DoctorSchedule,
)
from care.ports import Presence
from care.schemas import (
    AffiliationCreate,
    DoctorCreate,
    DoctorView,
)
from care.settings import CareSettings
from care.slots import Slot, Template, free_slots
from data.base import utcnow
from data.errors import Conflict, Forbidden, InvalidInput, NotFound
from dispatch.lifecycle import OPEN_STATUSES
from dispatch.models import EmergencyCase
from facilities.models import Department, Hospital
from identity.models import User

MAX_SLOT_WINDOW = timedelta(days=31)


async def get_hospital(*, db_session: AsyncSession, hospital_id: uuid.UUID) -> Hospital:
    """Load a hospital or 404."""
    hospital = await db_session.get(Hospital, hospital_id)
    if hospital is None:
        raise NotFound(f"no hospital {hospital_id}", code="hospital_not_found")
    return hospital


async def create_doctor(
    *,
    db_session: AsyncSession, requester: Requester, body: DoctorCreate
) -> Doctor:
    """A new profile; the licence number is unique (409 otherwise). Verification is separate."""
    if not requester.roles & {"hospital_admin", "super_admin"}:
        raise Forbidden("only hospital admins create doctor profiles", code="role_forbidden")
    if body.user_id is not None:
        user = await db_session.get(User, body.user_id)
        if user is None or "doctor" not in user.role_names:
            raise InvalidInput("user_id must name a user holding the doctor role",
                               field="user_id", code="not_a_doctor_user")
    doctor = Doctor(**body.model_dump(), is_verified=False)
    db_session.add(doctor)
    try:
        await db_session.commit()
    except IntegrityError as exc:
        await db_session.rollback()
        raise Conflict(
            "a doctor with this licence number (or user) already exists", code="doctor_exists"
        ) from exc
    return doctor


async def verify_doctor(
    *,
    db_session: AsyncSession, requester: Requester, doctor_id: uuid.UUID
) -> Doctor:
    """A super admin confirms the licence was checked."""
    if "super_admin" not in requester.roles:
        raise Forbidden("only a super admin verifies doctors", code="role_forbidden")
    doctor = await availability.get_doctor(db_session=db_session, doctor_id=doctor_id)
    doctor.is_verified = True
    await db_session.commit()
    return doctor


async def add_department(
    *,
    db_session: AsyncSession, requester: Requester, hospital_id: uuid.UUID, name: str
) -> Department:
    """A hospital admin opens a department."""
    require_manager(requester, hospital_id)
    await get_hospital(db_session=db_session, hospital_id=hospital_id)
    department = Department(hospital_id=hospital_id, name=name)
    db_session.add(department)
    await db_session.commit()
    return department


async def list_departments(*, db_session: AsyncSession, hospital_id: uuid.UUID) -> list[Department]:
    """The hospital's departments by name."""
    await get_hospital(db_session=db_session, hospital_id=hospital_id)
    rows = await db_session.execute(
        select(Department).where(Department.hospital_id == hospital_id).order_by(Department.name)
    )
    return list(rows.scalars())


async def attach_doctor(
    *,
    db_session: AsyncSession,
    requester: Requester,
    hospital_id: uuid.UUID,
    body: AffiliationCreate,
) -> DoctorHospitalAffiliation:
    """A hospital admin attaches a doctor to one of their departments (idempotent)."""
    require_manager(requester, hospital_id)
    await availability.get_doctor(db_session=db_session, doctor_id=body.doctor_id)
    department = await db_session.get(Department, body.department_id)
    if department is None or department.hospital_id != hospital_id:
        raise InvalidInput("no such department in this hospital", field="department_id")
    key = (body.doctor_id, hospital_id, body.department_id)
    link = await db_session.get(DoctorHospitalAffiliation, key)
    if link is None:
        link = DoctorHospitalAffiliation(
            doctor_id=body.doctor_id, hospital_id=hospital_id, department_id=body.department_id
        )
        db_session.add(link)
    link.is_primary = body.is_primary
    await db_session.commit()
    return link


async def accept_affiliation(
    *,
    db_session: AsyncSession, requester: Requester, hospital_id: uuid.UUID
) -> list[DoctorHospitalAffiliation]:
    """The doctor consents to work at a hospital that attached them: only then do its
    appointments and emergency cases give them a treatment relationship."""
    if requester.doctor_id is None:
        raise NotFound("you have no doctor profile to affiliate", code="doctor_not_found")
    links = list(await db_session.scalars(
        select(DoctorHospitalAffiliation).where(
            DoctorHospitalAffiliation.doctor_id == requester.doctor_id,
            DoctorHospitalAffiliation.hospital_id == hospital_id,
        )
    ))
    if not links:
        raise NotFound("this hospital has not attached you", code="affiliation_not_found")
    for link in links:
        link.accepted_at = link.accepted_at or utcnow()
    await db_session.commit()
    return links


async def doctor_hospitals(*, db_session: AsyncSession,
                           doctor_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """Hospitals the doctor is affiliated with."""
    rows = await db_session.scalars(
        select(DoctorHospitalAffiliation.hospital_id).where(
            DoctorHospitalAffiliation.doctor_id == doctor_id
        )
    )
    return frozenset(rows)


async def templates(*, db_session: AsyncSession, doctor_id: uuid.UUID) -> list[Template]:
    """The doctor's weekly schedule as pure templates."""
    rows = await db_session.scalars(
        select(DoctorSchedule).where(DoctorSchedule.doctor_id == doctor_id)
    )
    return [
        Template(r.hospital_id, r.weekday, r.start_time, r.end_time, r.slot_minutes) for r in rows
    ]


async def open_slots(
    *,
    db_session: AsyncSession,
    doctor_id: uuid.UUID,
    start: datetime,
    end: datetime,
    hospital_id: uuid.UUID | None = None,
    settings: CareSettings,
) -> list[Slot]:
    """Slots from the schedule minus live bookings, from now on, within at most 31 days."""
    if end <= start:
        raise InvalidInput("to must be after from", field="to")
    if end - start > MAX_SLOT_WINDOW:
        raise InvalidInput("ask for at most 31 days of slots", field="to")
    await availability.get_doctor(db_session=db_session, doctor_id=doctor_id)
    start = max(start, utcnow())
    booked = (
        await db_session.execute(
            select(Appointment.scheduled_start, Appointment.scheduled_end).where(
                Appointment.doctor_id == doctor_id,
                Appointment.status.in_(HOLDING_STATUSES),
                Appointment.scheduled_end > start,
                Appointment.scheduled_start < end,
            )
        )
    ).all()
    lines = [t for t in await templates(db_session=db_session, doctor_id=doctor_id)
             if hospital_id is None or t.hospital_id == hospital_id]
    return free_slots(lines, [tuple(b) for b in booked], start=start, end=end,
                      zone=ZoneInfo(settings.timezone))


async def search(
    *,
    db_session: AsyncSession,
    presence: Presence,
    city: str | None,
    specialty: str | None,
    language: str | None,
    available_now: bool,
    limit: int = 50,
) -> list[DoctorView]:
    """Doctors by city (of an affiliated hospital), specialty and language; live availability."""
    query = select(Doctor).order_by(Doctor.full_name, Doctor.id)
    if specialty:
        query = query.where(func.lower(Doctor.specialty) == specialty.strip().lower())
    if language:
        query = query.where(Doctor.languages.contains([language.strip().lower()]))
    if city:
        query = query.where(
            Doctor.id.in_(
                select(DoctorHospitalAffiliation.doctor_id)
                .join(Hospital, Hospital.id == DoctorHospitalAffiliation.hospital_id)
                .where(func.lower(Hospital.city) == city.strip().lower())
            )
        )
    doctors = list((await db_session.scalars(query)).unique())
    states = await availability.live_states(presence, [d.id for d in doctors])
    if available_now:
        doctors = [d for d in doctors if states[d.id] == "available"]
    doctors = doctors[:limit]
    hospitals = await _hospitals_of(db_session, [d.id for d in doctors])
    return [view(d, state=states[d.id], hospitals=hospitals.get(d.id, [])) for d in doctors]


async def _hospitals_of(
    db_session: AsyncSession, doctor_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    if not doctor_ids:
        return {}
    rows = await db_session.execute(
        select(DoctorHospitalAffiliation, Hospital.name, Hospital.city, Department.name)
        .join(Hospital, Hospital.id == DoctorHospitalAffiliation.hospital_id)
        .join(Department, Department.id == DoctorHospitalAffiliation.department_id)
        .where(DoctorHospitalAffiliation.doctor_id.in_(doctor_ids))
    )
    result: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for link, name, city, department in rows:
        result.setdefault(link.doctor_id, []).append(
            {"hospital_id": str(link.hospital_id), "name": name, "city": city,
             "department": department, "is_primary": link.is_primary}
        )
    return result


def view(doctor: Doctor, *, state: str, hospitals: list[dict[str, Any]]) -> DoctorView:
    """The public profile."""
    return DoctorView(
        id=doctor.id, full_name=doctor.full_name, license_no=doctor.license_no,
        specialty=doctor.specialty, languages=list(doctor.languages or []),
        years_experience=doctor.years_experience, consultation_fee=doctor.consultation_fee,
        is_verified=doctor.is_verified, hospitals=hospitals, availability=state,
    )


async def read_doctor(
    *, db_session: AsyncSession, presence: Presence, doctor_id: uuid.UUID
) -> DoctorView:
    """One doctor's public profile with live availability."""
    doctor = await availability.get_doctor(db_session=db_session, doctor_id=doctor_id)
    states = await availability.live_states(presence, [doctor.id])
    hospitals = await _hospitals_of(db_session, [doctor.id])
    return view(doctor, state=states[doctor.id], hospitals=hospitals.get(doctor.id, []))


async def dashboard_metrics(
    *,
    db_session: AsyncSession,
    requester: Requester,
    hospital_id: uuid.UUID,
    settings: CareSettings,
) -> dict[str, Any]:
    """Today's appointments and no-shows, open emergency cases bound here, and ED status."""
    if not may_see_hospital_metrics(requester, hospital_id):
        raise Forbidden(
            "only this hospital's admin may see its dashboard", code="not_your_hospital"
        )
    hospital = await get_hospital(db_session=db_session, hospital_id=hospital_id)
    zone = ZoneInfo(settings.timezone)
    today = utcnow().astimezone(zone).date()
    day_start = datetime.combine(today, time(0), tzinfo=zone)
    day_end = day_start + timedelta(days=1)
    counts = dict(
        (
            await db_session.execute(
                select(Appointment.status, func.count())
                .where(
                    Appointment.hospital_id == hospital_id,
                    Appointment.scheduled_start >= day_start,
                    Appointment.scheduled_start < day_end,
                )
                .group_by(Appointment.status)
            )
        ).all()
    )
    open_cases = await db_session.scalar(
        select(func.count()).select_from(EmergencyCase).where(
            EmergencyCase.destination_hospital_id == hospital_id,
            EmergencyCase.status.in_([s.value for s in OPEN_STATUSES]),
        )
    )
    return {
        "hospital_id": str(hospital_id),
        "date": today.isoformat(),
        "appointments_today": sum(v for k, v in counts.items() if k not in ("rescheduled",)),
        "appointments_by_status": counts,
        "no_shows_today": counts.get("no_show", 0),
        "open_emergency_cases": open_cases or 0,
        "ed_status": hospital.ed_status,
        "beds_available": hospital.beds_available,
        "capacity_updated_at": (
            hospital.capacity_updated_at.isoformat() if hospital.capacity_updated_at else None
        ),
    }
