"""Booking and the appointment lifecycle: one transaction per change with its history and events.

No double booking is the database's job (an exclusion constraint over the doctor's time), so
however many requests race for a slot, exactly one commits; updates use the row version.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from care import doctors as doctors_service
from care import waitlist
from care.access import (
    Requester,
    appointment_party,
    may_act_on_appointment,
)
from care.agenda import day_queue, publish_queue
from care.lifecycle import (
    FREES_SLOT,
    STATUS_TIMESTAMP,
    AppointmentAction,
    AppointmentStatus,
    allowed_actions,
    transition,
)
from care.models import Appointment, AppointmentEvent, WaitlistEntry
from care.reminders import queue_reminder, withdraw_reminder
from care.schemas import AppointmentCreate
from care.settings import CareSettings
from care.slots import slot_at
from data import idempotency
from data.base import utcnow
from data.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from identity.models import Patient

EXCLUSION_VIOLATION = "23P01"


class SlotTaken(Conflict):
    """Someone else holds this slot (or an overlapping one)."""

    code = "slot_taken"
    title = "Slot already booked"


class AppointmentNotFound(NotFound):
    code = "appointment_not_found"


@dataclass(frozen=True)
class Booked:
    """A booking, and whether it was an idempotent replay."""

    appointment: Appointment
    replayed: bool


def appointment_view(appointment: Appointment) -> dict[str, Any]:
    """The appointment as the API shows it."""
    status = AppointmentStatus(appointment.status)
    clock = {name: getattr(appointment, name) for name in (
        "confirmed_at", "checked_in_at", "started_at", "completed_at", "cancelled_at",
        "no_show_at")}
    return {
        "id": str(appointment.id),
        "patient_id": str(appointment.patient_id),
        "doctor_id": str(appointment.doctor_id),
        "hospital_id": str(appointment.hospital_id),
        "start": appointment.scheduled_start.isoformat(),
        "end": appointment.scheduled_end.isoformat(),
        "mode": appointment.mode,
        "status": status.value,
        "reason": appointment.reason,
        "version": appointment.version,
        "created_at": appointment.created_at.isoformat(),
        **{k: v.isoformat() if v else None for k, v in clock.items()},
        "cancel_reason": appointment.cancel_reason,
        "rescheduled_from_id": (
            str(appointment.rescheduled_from_id) if appointment.rescheduled_from_id else None
        ),
        "allowed_actions": allowed_actions(status),
    }


def _history(
    db_session: AsyncSession, appointment: Appointment, event: str, requester: Requester,
    **details: Any,
) -> None:
    db_session.add(
        AppointmentEvent(
            appointment_id=appointment.id, event_type=event, actor_user_id=requester.user_id,
            metadata_json={"actor": requester.label, "status": appointment.status, **details},
        )
    )


def _is_exclusion(exc: IntegrityError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION


async def _patient_for_booking(
    db_session: AsyncSession, requester: Requester, body: AppointmentCreate
) -> Patient:
    if body.patient_id is None or body.patient_id == requester.patient_id:
        if requester.patient_id is None:
            raise Forbidden("create your patient profile before booking", code="no_patient_profile")
        patient = await db_session.get(Patient, requester.patient_id)
    else:
        # Booking for someone else: the front desk of the hospital the slot belongs to.
        if appointment_party(
            requester, patient_id=body.patient_id, doctor_id=body.doctor_id,
            hospital_id=body.hospital_id,
        ) != "desk":
            raise Forbidden("you may book only for yourself", code="not_your_patient")
        patient = await db_session.get(Patient, body.patient_id)
    if patient is None:
        raise InvalidInput("no patient with this id", field="patient_id", code="unknown_patient")
    return patient


async def _validated_slot(
    db_session: AsyncSession, *, doctor_id: uuid.UUID, hospital_id: uuid.UUID, start: datetime,
    settings: CareSettings,
):
    if start <= utcnow():
        raise InvalidInput("this slot is in the past", field="start", code="slot_in_past")
    slot = slot_at(
        await doctors_service.templates(db_session=db_session, doctor_id=doctor_id),
        hospital_id=hospital_id, start=start, zone=ZoneInfo(settings.timezone),
    )
    if slot is None:
        raise InvalidInput(
            "the doctor has no slot starting at this time in this hospital", field="start",
            code="not_a_slot",
        )
    return slot


async def book(
    *,
    db_session: AsyncSession,
    requester: Requester,
    body: AppointmentCreate,
    idempotency_key: str | None,
    settings: CareSettings,
    from_waitlist: WaitlistEntry | None = None,
) -> Booked:
    """Book a slot; a retry with the same key returns the first booking; a taken slot is a 409."""
    key = None
    if idempotency_key is not None:
        key = idempotency.IdempotencyKey(scope=f"user:{requester.user_id}", key=idempotency_key)
        earlier = await idempotency.claim(
            db_session, key=key,
            request_hash=idempotency.request_fingerprint(body.model_dump(mode="json")),
            resource_type="appointment",
        )
        if earlier is not None and earlier.resource_id is not None:
            await db_session.commit()
            return Booked(await get_appointment(db_session=db_session,
                                                appointment_id=earlier.resource_id), True)
    doctor = await doctors_service.availability.get_doctor(
        db_session=db_session, doctor_id=body.doctor_id
    )
    patient = await _patient_for_booking(db_session, requester, body)
    slot = await _validated_slot(
        db_session, doctor_id=doctor.id, hospital_id=body.hospital_id, start=body.start,
        settings=settings,
    )
    reminder_id = await queue_reminder(
        db_session=db_session, start=slot.start, patient=patient, settings=settings,
        doctor_name=doctor.full_name
    )
    appointment = Appointment(
        id=uuid.uuid4(), patient_id=patient.id, doctor_id=doctor.id, hospital_id=body.hospital_id,
        scheduled_start=slot.start, scheduled_end=slot.end, mode=body.mode,
        status=AppointmentStatus.BOOKED.value, reason=body.reason, created_by=requester.user_id,
        reminder_sms_id=reminder_id,
    )
    db_session.add(appointment)
    try:
        await db_session.flush()
    except IntegrityError as exc:
        await db_session.rollback()
        if _is_exclusion(exc):
            raise SlotTaken("this slot was just booked by someone else") from None
        raise
    if key is not None:
        await idempotency.bind(db_session, key=key, resource_id=appointment.id)
    _history(db_session, appointment, "booked", requester)
    if from_waitlist is not None:
        from_waitlist.status, from_waitlist.appointment_id = "booked", appointment.id
    await db_session.commit()
    return Booked(appointment, False)


async def accept_offer(
    *,
    db_session: AsyncSession, requester: Requester, entry_id: uuid.UUID,
    settings: CareSettings,
) -> Appointment:
    """Take the slot the waitlist offered; if it went meanwhile, the entry waits again (409)."""
    entry = await waitlist.offered_entry(db_session=db_session, requester=requester,
                                         entry_id=entry_id)
    body = AppointmentCreate(
        doctor_id=entry.doctor_id, hospital_id=entry.offered_hospital_id, start=entry.offered_start
    )
    try:
        booked = await book(db_session=db_session, requester=requester, body=body,
                            idempotency_key=None, settings=settings, from_waitlist=entry)
    except (SlotTaken, InvalidInput):
        entry = await db_session.get(WaitlistEntry, entry_id, populate_existing=True)
        entry.status = "waiting"
        entry.offered_hospital_id = entry.offered_start = entry.offered_end = None
        await db_session.commit()
        raise
    return booked.appointment


async def get_appointment(*, db_session: AsyncSession, appointment_id: uuid.UUID) -> Appointment:
    """Load an appointment or 404."""
    appointment = await db_session.get(Appointment, appointment_id, populate_existing=True)
    if appointment is None:
        raise AppointmentNotFound(f"no appointment {appointment_id}")
    return appointment


async def read(
    *,
    db_session: AsyncSession, requester: Requester, appointment_id: uuid.UUID
) -> Appointment:
    """The patient, the doctor or the hospital's desk; others get a 404 (no existence leak)."""
    appointment = await get_appointment(db_session=db_session, appointment_id=appointment_id)
    if _party(requester, appointment) is None:
        raise AppointmentNotFound(f"no appointment {appointment_id}")
    return appointment


def _party(requester: Requester, appointment: Appointment) -> str | None:
    return appointment_party(
        requester, patient_id=appointment.patient_id, doctor_id=appointment.doctor_id,
        hospital_id=appointment.hospital_id,
    )


async def act(
    *,
    db_session: AsyncSession,
    requester: Requester,
    appointment_id: uuid.UUID,
    action: AppointmentAction,
    reason: str | None = None,
    expected_version: int | None = None,
    settings: CareSettings,
) -> Appointment:
    """Confirm, check in, start, complete, cancel or mark no-show; 409 on an illegal move."""
    appointment = await read(db_session=db_session, requester=requester,
                             appointment_id=appointment_id)
    if not may_act_on_appointment(_party(requester, appointment), action.value):
        raise Forbidden(f"you may not {action.value} this appointment", code="action_forbidden")
    _check_version(appointment, expected_version)
    previous = AppointmentStatus(appointment.status)
    target = transition(previous, action)
    now = utcnow()
    if target is AppointmentStatus.NO_SHOW and now < appointment.scheduled_start:
        raise Conflict("a no-show can only be recorded after the start time", code="too_early")
    appointment.status = target.value
    setattr(appointment, STATUS_TIMESTAMP[target], now)
    if target is AppointmentStatus.CANCELLED:
        appointment.cancel_reason = reason
    _history(db_session, appointment, action.value, requester, from_status=previous.value,
             reason=reason)
    await _commit(db_session, _after_move(db_session, appointment, target, settings=settings))
    return appointment


def _check_version(appointment: Appointment, expected_version: int | None) -> None:
    if expected_version is not None and appointment.version != expected_version:
        raise PreconditionFailed(
            f"appointment is at version {appointment.version}, not {expected_version}",
            current_version=appointment.version,
        )


async def _after_move(
    db_session: AsyncSession, appointment: Appointment, target: AppointmentStatus, *,
    settings: CareSettings,
) -> None:
    if target in FREES_SLOT:
        await withdraw_reminder(db_session=db_session, appointment=appointment)
        if appointment.scheduled_start > utcnow():
            await db_session.flush()  # free the slot before offering it
            await waitlist.offer_freed_slot(
                db_session=db_session, doctor_id=appointment.doctor_id,
                hospital_id=appointment.hospital_id,
                start=appointment.scheduled_start, end=appointment.scheduled_end,
            )
    if target in (AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_PROGRESS,
                  AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW,
                  AppointmentStatus.CANCELLED):
        await db_session.flush()
        await publish_queue(db_session=db_session, appointment=appointment, settings=settings)


async def _commit(db_session: AsyncSession, staged: Awaitable[None] | None = None) -> None:
    """Run the last staged step and commit; the loser of a version race gets a 409."""
    try:
        if staged is not None:
            await staged
        await db_session.commit()
    except StaleDataError as exc:
        await db_session.rollback()
        raise Conflict("the appointment changed concurrently; reload and retry",
                       code="concurrent_update") from exc


async def reschedule(
    *,
    db_session: AsyncSession,
    requester: Requester,
    appointment_id: uuid.UUID,
    start: datetime,
    hospital_id: uuid.UUID | None = None,
    expected_version: int | None = None,
    settings: CareSettings,
) -> Appointment:
    """Move to another slot of the doctor: the old one becomes rescheduled, a new one is booked."""
    old = await read(db_session=db_session, requester=requester, appointment_id=appointment_id)
    if not may_act_on_appointment(_party(requester, old), "reschedule"):
        raise Forbidden("you may not reschedule this appointment", code="action_forbidden")
    _check_version(old, expected_version)
    previous = AppointmentStatus(old.status)
    target = transition(previous, AppointmentAction.RESCHEDULE)
    hospital_id = hospital_id or old.hospital_id
    slot = await _validated_slot(db_session, doctor_id=old.doctor_id, hospital_id=hospital_id,
                                 start=start, settings=settings)
    now = utcnow()
    old.status = target.value
    old.cancelled_at = now
    await withdraw_reminder(db_session=db_session, appointment=old)
    patient = await db_session.get(Patient, old.patient_id)
    doctor = await doctors_service.availability.get_doctor(
        db_session=db_session, doctor_id=old.doctor_id
    )
    try:
        await db_session.flush()  # the old slot is free before the new one is taken
        reminder_id = await queue_reminder(
            db_session=db_session, start=slot.start, patient=patient, settings=settings,
            doctor_name=doctor.full_name
        )
        new = Appointment(
            id=uuid.uuid4(), patient_id=old.patient_id, doctor_id=old.doctor_id,
            hospital_id=hospital_id, scheduled_start=slot.start, scheduled_end=slot.end,
            mode=old.mode, status=AppointmentStatus.BOOKED.value, reason=old.reason,
            created_by=requester.user_id, rescheduled_from_id=old.id,
            reminder_sms_id=reminder_id,
        )
        db_session.add(new)
        await db_session.flush()
    except IntegrityError as exc:
        await db_session.rollback()
        if _is_exclusion(exc):
            raise SlotTaken("the new slot is already booked") from None
        raise
    except StaleDataError as exc:
        await db_session.rollback()
        raise Conflict("the appointment changed concurrently; reload and retry",
                       code="concurrent_update") from exc
    _history(db_session, old, "rescheduled", requester, from_status=previous.value,
             to_appointment_id=str(new.id))
    _history(db_session, new, "booked", requester, rescheduled_from_id=str(old.id))
    if old.scheduled_start > now:
        await waitlist.offer_freed_slot(
            db_session=db_session, doctor_id=old.doctor_id, hospital_id=old.hospital_id,
            start=old.scheduled_start, end=old.scheduled_end,
        )
    await _commit(db_session)
    return new


async def queue_position(
    *,
    db_session: AsyncSession, requester: Requester, appointment_id: uuid.UUID,
    settings: CareSettings,
) -> dict[str, Any]:
    """Where the patient stands in today's queue (None unless checked in)."""
    appointment = await read(db_session=db_session, requester=requester,
                             appointment_id=appointment_id)
    queue = await day_queue(db_session=db_session, appointment=appointment, settings=settings)
    ids = [a.id for a in queue]
    position = ids.index(appointment.id) + 1 if appointment.id in ids else None
    return {
        "appointment_id": str(appointment.id),
        "status": appointment.status,
        "position": position,
        "waiting_ahead": position - 1 if position else None,
        "queue_length": len(ids),
    }
