"""Weekly schedule lines: the hospital admin adds or removes them, the doctor keeps their own."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from care.access import Requester, require_manager
from care.models import DoctorHospitalAffiliation, DoctorSchedule
from care.schemas import MyScheduleCreate, ScheduleCreate
from data.errors import Conflict, Forbidden, InvalidInput, NotFound

EXCLUSION_VIOLATION = "23P01"


async def add_schedule(
    *,
    db_session: AsyncSession,
    requester: Requester,
    hospital_id: uuid.UUID,
    doctor_id: uuid.UUID,
    body: ScheduleCreate,
) -> DoctorSchedule:
    """A weekly template line; it may not overlap the doctor's other lines on that weekday."""
    require_manager(requester, hospital_id)
    if not await _affiliated(db_session, doctor_id, hospital_id):
        raise InvalidInput("attach the doctor to this hospital first", field="doctor_id")
    return await _insert_line(db_session, doctor_id, hospital_id, body)


async def add_my_schedule(
    *, db_session: AsyncSession, requester: Requester, body: MyScheduleCreate
) -> DoctorSchedule:
    """The doctor keeps their own week, but only at a hospital whose affiliation they accepted."""
    doctor_id = await _accepted_doctor(db_session, requester, body.hospital_id)
    return await _insert_line(db_session, doctor_id, body.hospital_id,
                              ScheduleCreate(**body.model_dump(exclude={"hospital_id"})))


async def delete_my_schedule(
    *, db_session: AsyncSession, requester: Requester, schedule_id: uuid.UUID
) -> None:
    """The doctor removes one of their own lines (404 for anyone else's). Appointments already
    booked in it are kept: only future free slots disappear."""
    if requester.doctor_id is None:
        raise NotFound("no doctor profile is linked to your account", code="no_doctor_profile")
    line = await db_session.get(DoctorSchedule, schedule_id)
    if line is None or line.doctor_id != requester.doctor_id:
        raise NotFound(f"no schedule line {schedule_id} of yours", code="schedule_not_found")
    await _accepted_doctor(db_session, requester, line.hospital_id)
    await _delete_line(db_session, schedule_id, doctor_id=line.doctor_id,
                       hospital_id=line.hospital_id)


async def delete_schedule(
    *,
    db_session: AsyncSession,
    requester: Requester,
    hospital_id: uuid.UUID,
    doctor_id: uuid.UUID,
    schedule_id: uuid.UUID,
) -> None:
    """The hospital admin removes a line of their hospital. Appointments already booked in it
    are kept: only future free slots disappear."""
    require_manager(requester, hospital_id)
    await _delete_line(db_session, schedule_id, doctor_id=doctor_id, hospital_id=hospital_id)


async def _accepted_doctor(
    db_session: AsyncSession, requester: Requester, hospital_id: uuid.UUID
) -> uuid.UUID:
    if requester.doctor_id is None:
        raise NotFound("no doctor profile is linked to your account", code="no_doctor_profile")
    accepted = await db_session.scalar(
        select(DoctorHospitalAffiliation.doctor_id).where(
            DoctorHospitalAffiliation.doctor_id == requester.doctor_id,
            DoctorHospitalAffiliation.hospital_id == hospital_id,
            DoctorHospitalAffiliation.accepted_at.is_not(None),
        ).limit(1)
    )
    if accepted is None:
        raise Forbidden("accept this hospital's affiliation first",
                        code="affiliation_not_accepted")
    return requester.doctor_id


async def _insert_line(
    db_session: AsyncSession, doctor_id: uuid.UUID, hospital_id: uuid.UUID, body: ScheduleCreate
) -> DoctorSchedule:
    clash = await db_session.scalar(
        select(DoctorSchedule.id).where(
            DoctorSchedule.doctor_id == doctor_id,
            DoctorSchedule.weekday == body.weekday,
            DoctorSchedule.start_time < body.end_time,
            DoctorSchedule.end_time > body.start_time,
        ).limit(1)
    )
    if clash is not None:
        raise _overlap()
    line = DoctorSchedule(doctor_id=doctor_id, hospital_id=hospital_id, **body.model_dump())
    db_session.add(line)
    try:
        await db_session.commit()
    except IntegrityError as exc:
        # Two adds at the same instant both passed the check above: the constraint decides.
        await db_session.rollback()
        if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise _overlap() from None
        raise
    return line


def _overlap() -> Conflict:
    return Conflict("this overlaps another schedule of the doctor", code="schedule_overlap")


async def _delete_line(
    db_session: AsyncSession, schedule_id: uuid.UUID, *, doctor_id: uuid.UUID,
    hospital_id: uuid.UUID,
) -> None:
    # One DELETE ... RETURNING: of two concurrent deletes the row lock lets exactly one win.
    gone = await db_session.scalar(
        delete(DoctorSchedule).where(
            DoctorSchedule.id == schedule_id,
            DoctorSchedule.doctor_id == doctor_id,
            DoctorSchedule.hospital_id == hospital_id,
        ).returning(DoctorSchedule.id)
    )
    await db_session.commit()
    if gone is None:
        raise NotFound(f"no schedule line {schedule_id} here", code="schedule_not_found")


async def _affiliated(
    db_session: AsyncSession, doctor_id: uuid.UUID, hospital_id: uuid.UUID
) -> bool:
    found = await db_session.scalar(
        select(DoctorHospitalAffiliation.doctor_id).where(
            DoctorHospitalAffiliation.doctor_id == doctor_id,
            DoctorHospitalAffiliation.hospital_id == hospital_id,
        ).limit(1)
    )
    return found is not None
