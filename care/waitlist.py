"""The waitlist: a freed slot is offered to the longest-waiting patient whose window fits it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care.access import Requester
from care.models import Doctor, WaitlistEntry
from care.schemas import WaitlistCreate
from data import idempotency
from data.base import utcnow
from data.errors import Conflict, Forbidden, NotFound
from identity.models import Patient
from messaging.outbox import queue_sms


async def join(
    *,
    db_session: AsyncSession, requester: Requester, body: WaitlistCreate,
    idempotency_key: str | None = None,
) -> tuple[WaitlistEntry, bool]:
    """A patient asks for any slot of this doctor within a window; a retry with the same
    Idempotency-Key (an app's offline outbox) returns the first entry, and True."""
    if requester.patient_id is None:
        raise Forbidden("create your patient profile first", code="no_patient_profile")
    if await db_session.get(Doctor, body.doctor_id) is None:
        raise NotFound(f"no doctor {body.doctor_id}", code="doctor_not_found")
    entry_id = uuid.uuid4()
    if idempotency_key is not None:
        earlier = await idempotency.claim(
            db_session,
            key=idempotency.IdempotencyKey(scope=f"user:{requester.user_id}", key=idempotency_key),
            request_hash=idempotency.request_fingerprint(body.model_dump(mode="json")),
            resource_type="waitlist_entry", resource_id=entry_id,
        )
        if earlier is not None and earlier.resource_id is not None:
            await db_session.commit()
            found = await db_session.get(WaitlistEntry, earlier.resource_id)
            if found is not None:
                return found, True
    entry = WaitlistEntry(
        id=entry_id, patient_id=requester.patient_id, doctor_id=body.doctor_id,
        not_before=body.not_before, not_after=body.not_after, status="waiting",
    )
    db_session.add(entry)
    await db_session.commit()
    return entry, False


async def offer_freed_slot(
    *,
    db_session: AsyncSession,
    doctor_id: uuid.UUID,
    hospital_id: uuid.UUID,
    start: datetime,
    end: datetime,
) -> WaitlistEntry | None:
    """Offer the slot to the first waiting patient (in the caller's transaction), by SMS too."""
    entry = await db_session.scalar(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.doctor_id == doctor_id,
            WaitlistEntry.status == "waiting",
            WaitlistEntry.not_before <= start,
            WaitlistEntry.not_after >= end,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if entry is None:
        return None
    entry.status = "offered"
    entry.offered_hospital_id = hospital_id
    entry.offered_start, entry.offered_end = start, end
    entry.offered_at = utcnow()
    patient = await db_session.get(Patient, entry.patient_id)
    if patient is not None and patient.phone:
        queue_sms(
            db_session, to_number=patient.phone, purpose="waitlist_offer",
            body="Lifeline: a slot you were waiting for is free. Open the app to take it.",
        )
    return entry


async def mine(*, db_session: AsyncSession, requester: Requester) -> list[WaitlistEntry]:
    """The caller's waitlist entries, newest first."""
    if requester.patient_id is None:
        return []
    rows = await db_session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.patient_id == requester.patient_id)
        .order_by(WaitlistEntry.created_at.desc())
    )
    return list(rows)


async def offered_entry(
    *,
    db_session: AsyncSession, requester: Requester, entry_id: uuid.UUID
) -> WaitlistEntry:
    """The caller's own entry holding an offer; 404 for someone else's, 409 without an offer."""
    entry = await db_session.get(WaitlistEntry, entry_id, with_for_update=True)
    if entry is None or entry.patient_id != requester.patient_id:
        raise NotFound(f"no waitlist entry {entry_id}", code="waitlist_entry_not_found")
    if entry.status != "offered" or entry.offered_start is None:
        raise Conflict("this entry holds no offer", code="no_offer")
    return entry


def entry_view(entry: WaitlistEntry) -> dict:
    """The entry as the API shows it."""
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(entry.id),
        "doctor_id": str(entry.doctor_id),
        "not_before": iso(entry.not_before),
        "not_after": iso(entry.not_after),
        "status": entry.status,
        "offer": None if entry.status != "offered" else {
            "hospital_id": str(entry.offered_hospital_id),
            "start": iso(entry.offered_start),
            "end": iso(entry.offered_end),
            "offered_at": iso(entry.offered_at),
        },
        "appointment_id": str(entry.appointment_id) if entry.appointment_id else None,
    }
