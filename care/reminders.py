"""Appointment reminders: an SMS queued with the booking, withdrawn when the slot is freed.

The messaging worker sends it when it falls due, so a booking never waits on a network.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from care.models import Appointment
from care.settings import CareSettings
from data.base import utcnow
from identity.models import Patient
from messaging.models import SmsMessage
from messaging.outbox import queue_sms


async def queue_reminder(
    *,
    db_session: AsyncSession, start: datetime, patient: Patient,
    settings: CareSettings, doctor_name: str,
) -> uuid.UUID | None:
    """Queue the reminder SMS (sent by the messaging worker when it falls due); its id."""
    if not patient.phone:
        return None
    local = start.astimezone(ZoneInfo(settings.timezone))
    message = queue_sms(
        db_session,
        to_number=patient.phone,
        body=(
            f"Lifeline: reminder of your appointment with {doctor_name} on "
            f"{local:%a %d %b at %H:%M}. Cancel in the app if you cannot come."
        ),
        purpose="appointment_reminder",
    )
    message.next_attempt_at = max(start - timedelta(hours=settings.reminder_lead_hours), utcnow())
    await db_session.flush()  # the SMS row exists before an appointment points at it
    return message.id


async def withdraw_reminder(*, db_session: AsyncSession, appointment: Appointment) -> None:
    """A cancelled appointment's reminder must never go out."""
    if appointment.reminder_sms_id is None:
        return
    message = await db_session.get(SmsMessage, appointment.reminder_sms_id)
    if message is not None and message.status == "queued":
        message.status = "cancelled"
        message.next_attempt_at = None
