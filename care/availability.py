"""Doctor presence: live with a TTL (silence means offline; care.ports.Presence), snapshotted to
PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from care.models import Doctor, DoctorAvailabilityState, DoctorHospitalAffiliation
from care.ports import Presence
from care.settings import CareSettings
from data.base import utcnow
from data.errors import InvalidInput, NotFound, Unavailable
from data.events import DOCTOR_AVAILABILITY, DoctorAvailability
from data.outbox import record_event

log = logging.getLogger("lifeline.care.presence")
STATES = ("available", "busy", "offline", "in_emergency")


async def own_doctor(*, db_session: AsyncSession, user_id: uuid.UUID) -> Doctor:
    """The doctor profile of the signed-in user."""
    doctor = await db_session.scalar(select(Doctor).where(Doctor.user_id == user_id))
    if doctor is None:
        raise NotFound("no doctor profile is linked to your account", code="no_doctor_profile")
    return doctor


async def _snapshot(db_session: AsyncSession, doctor_id: uuid.UUID) -> DoctorAvailabilityState:
    row = await db_session.get(DoctorAvailabilityState, doctor_id, with_for_update=True)
    if row is None:
        row = DoctorAvailabilityState(doctor_id=doctor_id, current_state="offline")
        db_session.add(row)
    return row


def _event(row: DoctorAvailabilityState, *, previous: str, cause: str) -> DoctorAvailability:
    return {
        "doctor_id": str(row.doctor_id),
        "state": row.current_state,
        "previous_state": previous,
        "hospital_id": str(row.current_hospital_id) if row.current_hospital_id else None,
        "cause": cause,
        "at": utcnow().isoformat(),
    }


async def set_state(
    *,
    db_session: AsyncSession,
    presence: Presence,
    doctor: Doctor,
    state: str,
    hospital_id: uuid.UUID | None,
    settings: CareSettings,
) -> dict[str, Any]:
    """A doctor announces a state; it lives for one TTL unless heartbeats keep it alive."""
    if state not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}", field="state")
    if hospital_id is not None:
        affiliated = await db_session.scalar(
            select(DoctorHospitalAffiliation.hospital_id).where(
                DoctorHospitalAffiliation.doctor_id == doctor.id,
                DoctorHospitalAffiliation.hospital_id == hospital_id,
            ).limit(1)
        )
        if affiliated is None:
            raise InvalidInput("you are not affiliated with this hospital", field="hospital_id")
    now = utcnow()
    row = await _snapshot(db_session, doctor.id)
    previous, previous_hospital = row.current_state, row.current_hospital_id
    row.current_state = state
    row.current_hospital_id = hospital_id
    row.last_heartbeat_at = now
    if (previous, previous_hospital) != (state, hospital_id):  # subscribers hear changes only
        record_event(
            db_session, channel=DOCTOR_AVAILABILITY.channel,
            event_type=DOCTOR_AVAILABILITY.event_type, aggregate_type="doctor",
            aggregate_id=doctor.id,
            payload=_event(row, previous=previous, cause="set"),
        )
    await db_session.commit()
    if state == "offline":
        await presence.withdraw(doctor.id)
    else:
        await presence.announce(doctor.id, state=state, hospital_id=hospital_id,
                                ttl_s=settings.presence_ttl_seconds)
    ttl = settings.presence_ttl_seconds
    return {"doctor_id": str(doctor.id), "state": state, "ttl_seconds": ttl}


async def heartbeat(
    *,
    db_session: AsyncSession,
    presence: Presence,
    doctor: Doctor,
    settings: CareSettings,
) -> dict[str, Any]:
    """Keep the announced state alive; after a silence longer than the TTL the doctor is offline.

    The snapshot in PostgreSQL is refreshed at most every ``snapshot_every_seconds``.
    """
    alive = await presence.refresh(doctor.id, ttl_s=settings.presence_ttl_seconds)
    if not alive:
        return {"doctor_id": str(doctor.id), "state": "offline", "expired": True}
    state = (await presence.states([doctor.id]))[0] or "offline"
    row = await db_session.get(DoctorAvailabilityState, doctor.id)
    now = utcnow()
    due = row is None or row.last_heartbeat_at is None or (
        now - row.last_heartbeat_at >= timedelta(seconds=settings.snapshot_every_seconds)
    )
    if due:
        row = await _snapshot(db_session, doctor.id)
        row.last_heartbeat_at = now
        await db_session.commit()
    return {"doctor_id": str(doctor.id), "state": state, "expired": False}


async def live_states(
    presence: Presence, doctor_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Each doctor's live state; no presence (expired) means offline."""
    ids = list(doctor_ids)
    if not ids:
        return {}
    try:
        states = await presence.states(ids)
    except Unavailable:
        # Search keeps working without live presence: nobody is shown as available.
        log.warning("presence unavailable; showing every doctor offline", exc_info=True)
        states = [None] * len(ids)
    return {i: state or "offline" for i, state in zip(ids, states, strict=True)}


async def expire_silent(
    *, db_session: AsyncSession, presence: Presence, settings: CareSettings
) -> list[uuid.UUID]:
    """Persist 'offline' for doctors whose presence expired and tell subscribers (periodic)."""
    rows = list(
        (
            await db_session.execute(
                select(DoctorAvailabilityState)
                .where(DoctorAvailabilityState.current_state != "offline")
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    live = await live_states(presence, [r.doctor_id for r in rows])
    expired = []
    for row in rows:
        if live[row.doctor_id] != "offline":
            continue
        previous = row.current_state
        row.current_state = "offline"
        record_event(
            db_session, channel=DOCTOR_AVAILABILITY.channel,
            event_type=DOCTOR_AVAILABILITY.event_type, aggregate_type="doctor",
            aggregate_id=row.doctor_id, payload=_event(row, previous=previous, cause="expired"),
        )
        expired.append(row.doctor_id)
    await db_session.commit()
    return expired


async def get_doctor(*, db_session: AsyncSession, doctor_id: uuid.UUID) -> Doctor:
    """Load a doctor or 404."""
    doctor = await db_session.get(Doctor, doctor_id)
    if doctor is None:
        raise NotFound(f"no doctor {doctor_id}", code="doctor_not_found")
    return doctor


async def announce(
    *, db_session: AsyncSession, presence: Presence, user_id: uuid.UUID | None, state: str,
    hospital_id: uuid.UUID | None, settings: CareSettings,
) -> dict[str, Any]:
    """The signed-in doctor sets their state."""
    doctor = await own_doctor(db_session=db_session, user_id=user_id)
    return await set_state(db_session=db_session, presence=presence, doctor=doctor, state=state,
                           hospital_id=hospital_id, settings=settings)


async def beat(
    *, db_session: AsyncSession, presence: Presence, user_id: uuid.UUID | None,
    settings: CareSettings,
) -> dict[str, Any]:
    """The signed-in doctor's app heartbeats."""
    doctor = await own_doctor(db_session=db_session, user_id=user_id)
    return await heartbeat(db_session=db_session, presence=presence, doctor=doctor,
                           settings=settings)


async def sweep_presence(
    session_factory: async_sessionmaker[AsyncSession], presence: Presence, *,
    settings: CareSettings,
) -> None:
    """Background loop: persist and announce expired presence once per TTL. Never returns."""
    while True:
        await asyncio.sleep(settings.presence_ttl_seconds)
        try:
            async with session_factory() as session:
                await expire_silent(db_session=session, presence=presence, settings=settings)
        except Exception:  # keep sweeping on the next round
            log.exception("presence sweep failed; retrying")
