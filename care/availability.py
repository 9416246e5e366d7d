"""Doctor presence: live in Redis with a TTL (silence means offline), snapshotted to PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from care.models import Doctor, DoctorAvailabilityState, DoctorHospitalAffiliation
from care.settings import CareSettings
from data.base import utcnow
from data.errors import InvalidInput, NotFound
from data.events import Channel
from data.outbox import record_event

log = logging.getLogger("lifeline.care.presence")
STATES = ("available", "busy", "offline", "in_emergency")


def presence_key(settings: CareSettings, doctor_id: uuid.UUID) -> str:
    """The Redis key holding a doctor's live presence."""
    return f"{settings.presence_prefix}{doctor_id}"


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


def _event(row: DoctorAvailabilityState, *, previous: str, cause: str) -> dict[str, Any]:
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
    redis: Redis,
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
            db_session, channel=Channel.DOCTOR_AVAILABILITY, event_type="doctor.availability",
            aggregate_type="doctor", aggregate_id=doctor.id,
            payload=_event(row, previous=previous, cause="set"),
        )
    await db_session.commit()
    key = presence_key(settings, doctor.id)
    if state == "offline":
        await redis.delete(key)
    else:
        value = {"state": state, "hospital_id": str(hospital_id) if hospital_id else None}
        await redis.set(key, json.dumps(value), ex=settings.presence_ttl_seconds)
    ttl = settings.presence_ttl_seconds
    return {"doctor_id": str(doctor.id), "state": state, "ttl_seconds": ttl}


async def heartbeat(
    *,
    db_session: AsyncSession,
    redis: Redis,
    doctor: Doctor,
    settings: CareSettings,
) -> dict[str, Any]:
    """Keep the announced state alive; after a silence longer than the TTL the doctor is offline.

    The snapshot in PostgreSQL is refreshed at most every ``snapshot_every_seconds``.
    """
    key = presence_key(settings, doctor.id)
    alive = await redis.expire(key, settings.presence_ttl_seconds)
    if not alive:
        return {"doctor_id": str(doctor.id), "state": "offline", "expired": True}
    raw = await redis.get(key)
    state = json.loads(raw)["state"] if raw else "offline"
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
    redis: Redis, doctor_ids: Iterable[uuid.UUID], *, settings: CareSettings
) -> dict[uuid.UUID, str]:
    """Each doctor's live state; a missing (expired) key means offline."""
    ids = list(doctor_ids)
    if not ids:
        return {}
    try:
        values = await redis.mget([presence_key(settings, i) for i in ids])
    except RedisError:
        # Search keeps working without live presence: nobody is shown as available.
        log.warning("presence unavailable (Redis); showing every doctor offline", exc_info=True)
        values = [None] * len(ids)
    pairs = zip(ids, values, strict=True)
    return {i: (json.loads(v)["state"] if v else "offline") for i, v in pairs}


async def expire_silent(
    *, db_session: AsyncSession, redis: Redis, settings: CareSettings
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
    live = await live_states(redis, [r.doctor_id for r in rows], settings=settings)
    expired = []
    for row in rows:
        if live[row.doctor_id] != "offline":
            continue
        previous = row.current_state
        row.current_state = "offline"
        record_event(
            db_session, channel=Channel.DOCTOR_AVAILABILITY, event_type="doctor.availability",
            aggregate_type="doctor",
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
    *, db_session: AsyncSession, redis: Redis, user_id: uuid.UUID | None, state: str,
    hospital_id: uuid.UUID | None, settings: CareSettings,
) -> dict[str, Any]:
    """The signed-in doctor sets their state."""
    doctor = await own_doctor(db_session=db_session, user_id=user_id)
    return await set_state(db_session=db_session, redis=redis, doctor=doctor, state=state,
                           hospital_id=hospital_id, settings=settings)


async def beat(
    *, db_session: AsyncSession, redis: Redis, user_id: uuid.UUID | None,
    settings: CareSettings,
) -> dict[str, Any]:
    """The signed-in doctor's app heartbeats."""
    doctor = await own_doctor(db_session=db_session, user_id=user_id)
    return await heartbeat(db_session=db_session, redis=redis, doctor=doctor, settings=settings)


async def sweep_presence(
    session_factory: async_sessionmaker[AsyncSession], redis: Redis, *,
    settings: CareSettings,
) -> None:
    """Background loop: persist and announce expired presence once per TTL. Never returns."""
    while True:
        await asyncio.sleep(settings.presence_ttl_seconds)
        try:
            async with session_factory() as session:
                await expire_silent(db_session=session, redis=redis, settings=settings)
        except Exception:  # keep sweeping on the next round
            log.exception("presence sweep failed; retrying")
