"""Appointments as lists: a doctor's or a desk's day, a patient's own, and today's queue.

The queue (checked-in patients in check-in order) is announced on every move that changes it,
so waiting-room displays and patients' apps follow it live.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care.access import Requester, manages_hospital
from care.lifecycle import AppointmentStatus
from care.models import Appointment
from care.settings import CareSettings
from data.errors import Forbidden
from data.events import APPOINTMENT_QUEUE, AppointmentQueue
from data.outbox import record_event


def _day_bounds(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    day = moment.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, start + timedelta(days=1)


async def day_queue(
    *,
    db_session: AsyncSession, appointment: Appointment, settings: CareSettings
) -> list[Appointment]:
    """Checked-in patients of this doctor and hospital today, in check-in order."""
    start, end = _day_bounds(appointment.scheduled_start, ZoneInfo(settings.timezone))
    rows = await db_session.scalars(
        select(Appointment)
        .where(
            Appointment.doctor_id == appointment.doctor_id,
            Appointment.hospital_id == appointment.hospital_id,
            Appointment.status == AppointmentStatus.CHECKED_IN.value,
            Appointment.scheduled_start >= start,
            Appointment.scheduled_start < end,
        )
        .order_by(Appointment.checked_in_at, Appointment.scheduled_start, Appointment.id)
    )
    return list(rows)


async def publish_queue(
    *,
    db_session: AsyncSession, appointment: Appointment, settings: CareSettings
) -> None:
    """Tell the waiting room display (and patients' apps) the queue of this doctor changed."""
    queue = await day_queue(db_session=db_session, appointment=appointment, settings=settings)
    start, _ = _day_bounds(appointment.scheduled_start, ZoneInfo(settings.timezone))
    payload: AppointmentQueue = {
        "hospital_id": str(appointment.hospital_id),
        "doctor_id": str(appointment.doctor_id),
        "date": start.date().isoformat(),
        "appointment_id": str(appointment.id),
        "status": appointment.status,
        "queue": [str(a.id) for a in queue],
        "queue_length": len(queue),
    }
    record_event(
        db_session, channel=APPOINTMENT_QUEUE.channel, event_type=APPOINTMENT_QUEUE.event_type,
        aggregate_type="appointment", aggregate_id=appointment.id, payload=payload,
    )


async def list_mine(*, db_session: AsyncSession, requester: Requester) -> list[Appointment]:
    """The caller's own appointments as a patient, newest first."""
    if requester.patient_id is None:
        return []
    rows = await db_session.scalars(
        select(Appointment).where(Appointment.patient_id == requester.patient_id)
        .order_by(Appointment.scheduled_start.desc()).limit(200)
    )
    return list(rows)


async def day_list(
    *,
    db_session: AsyncSession,
    requester: Requester,
    day: date,
    hospital_id: uuid.UUID | None = None,
    doctor_id: uuid.UUID | None = None,
    settings: CareSettings,
) -> list[Appointment]:
    """A day's appointments: the desk sees its hospital's, a doctor their own agenda."""
    query = select(Appointment)
    if hospital_id is not None:
        if not manages_hospital(requester, hospital_id):
            raise Forbidden("only this hospital's admin sees its appointments",
                            code="not_your_hospital")
        query = query.where(Appointment.hospital_id == hospital_id)
        if doctor_id is not None:
            query = query.where(Appointment.doctor_id == doctor_id)
    else:
        if requester.doctor_id is None:
            raise Forbidden("no doctor profile is linked to your account", code="not_a_doctor")
        query = query.where(Appointment.doctor_id == requester.doctor_id)
    start = datetime.combine(day, time(0), tzinfo=ZoneInfo(settings.timezone))
    rows = await db_session.scalars(
        query.where(Appointment.scheduled_start >= start,
                    Appointment.scheduled_start < start + timedelta(days=1))
        .order_by(Appointment.scheduled_start, Appointment.id)
    )
    return list(rows)
