"""Presence: lives for one TTL in Redis, heartbeats keep it, silence makes the doctor offline."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from care import availability
from care.models import Doctor, DoctorAvailabilityState
from care.settings import CareSettings
from data.outbox import OutboxEvent

#: For the sweeper test only, which is about the sweep loop: it sweeps once per TTL, and with
#: the default 90 s the test would wait a minute and a half.
SHORT = CareSettings(presence_ttl_seconds=1, snapshot_every_seconds=1)


async def available_ids(client, **params) -> set[str]:
    r = await client.get("/api/v1/doctors", params={"available_now": "true", **params})
    assert r.status_code == 200, r.text
    return {d["id"] for d in r.json()}


async def test_presence_expires_when_heartbeats_stop_and_search_reflects_it(app, client, clinic):
    """The presence's TTL is read and moved in Redis, instead of racing heartbeats against it."""
    redis = app.state.redis
    settings = CareSettings()  # what `make run` has: a presence lives 90 s without a heartbeat
    ttl_ms = settings.presence_ttl_seconds * 1000
    key = availability.presence_key(settings, uuid.UUID(clinic.doctor_id))
    async with app.state.session_factory() as session:
        doctor = await session.get(Doctor, uuid.UUID(clinic.doctor_id))
        await availability.set_state(db_session=session, redis=redis, doctor=doctor,
                                     state="available", hospital_id=uuid.UUID(clinic.hospital_id),
                                     settings=settings)
    assert ttl_ms - 5_000 < await redis.pttl(key) <= ttl_ms
    assert clinic.doctor_id in await available_ids(client, specialty="general practice")
    # A heartbeat just before the presence would expire gives it a whole TTL again ...
    for _ in range(3):
        await redis.pexpire(key, 2_000)  # as if 88 s had passed in silence
        async with app.state.session_factory() as session:
            doctor = await session.get(Doctor, uuid.UUID(clinic.doctor_id))
            beat = await availability.heartbeat(db_session=session, redis=redis, doctor=doctor,
                                                settings=settings)
        assert beat == {"doctor_id": clinic.doctor_id, "state": "available", "expired": False}
        assert await redis.pttl(key) > ttl_ms - 5_000
    assert clinic.doctor_id in await available_ids(client, language="fi")
    # ... and silence ends it: the key runs out (waited on, with a deadline).
    await redis.pexpire(key, 1)
    deadline = asyncio.get_running_loop().time() + 5
    while await redis.exists(key):
        assert asyncio.get_running_loop().time() < deadline, "the presence never expired"
        await asyncio.sleep(0.01)
    assert clinic.doctor_id not in await available_ids(client)
    profile = (await client.get(f"/api/v1/doctors/{clinic.doctor_id}")).json()
    assert profile["availability"] == "offline"
    async with app.state.session_factory() as session:
        doctor = await session.get(Doctor, uuid.UUID(clinic.doctor_id))
        late = await availability.heartbeat(db_session=session, redis=redis, doctor=doctor,
                                            settings=settings)
        assert late["expired"] is True
        expired = await availability.expire_silent(db_session=session, redis=redis,
                                                   settings=settings)
    assert uuid.UUID(clinic.doctor_id) in expired
    async with app.state.session_factory() as session:
        snapshot = await session.get(DoctorAvailabilityState, uuid.UUID(clinic.doctor_id))
        events = list(await session.scalars(
            select(OutboxEvent).where(OutboxEvent.channel == "doctor.availability.updated",
                                      OutboxEvent.aggregate_id == clinic.doctor_id)
            .order_by(OutboxEvent.id)))
    assert snapshot.current_state == "offline" and snapshot.last_heartbeat_at is not None
    assert [(e.payload["state"], e.payload["cause"]) for e in events] == [
        ("available", "set"), ("offline", "expired")]
    assert events[0].payload["hospital_id"] == clinic.hospital_id


async def test_doctor_sets_state_over_http(app, client, clinic):
    h = clinic.doctor.headers
    r = await client.put("/api/v1/doctors/me/availability", headers=h,
                         json={"state": "in_emergency", "hospital_id": clinic.hospital_id})
    assert r.status_code == 200 and r.json()["state"] == "in_emergency"
    r = await client.post("/api/v1/doctors/me/heartbeat", headers=h)
    assert r.status_code == 200 and r.json()["state"] == "in_emergency"
    assert clinic.doctor_id not in await available_ids(client)
    profile = (await client.get(f"/api/v1/doctors/{clinic.doctor_id}")).json()
    assert profile["availability"] == "in_emergency"
    r = await client.put("/api/v1/doctors/me/availability", headers=h, json={"state": "available"})
    assert r.status_code == 200
    assert clinic.doctor_id in await available_ids(client)
    r = await client.put("/api/v1/doctors/me/availability", headers=h, json={"state": "offline"})
    assert clinic.doctor_id not in await available_ids(client)
    # Not a doctor, a bad state, a hospital the doctor does not work at.
    r = await client.put("/api/v1/doctors/me/availability", headers=clinic.admin.headers,
                         json={"state": "available"})
    assert r.status_code == 403
    r = await client.put("/api/v1/doctors/me/availability", headers=h, json={"state": "asleep"})
    assert r.status_code == 422
    r = await client.put("/api/v1/doctors/me/availability", headers=h,
                         json={"state": "available", "hospital_id": str(uuid.uuid4())})
    assert r.status_code == 422


async def test_search_filters_and_profile(app, client, clinic):
    r = await client.get("/api/v1/doctors", params={"specialty": "General Practice",
                                                     "language": "EN"})
    found = {d["id"]: d for d in r.json()}
    assert clinic.doctor_id in found
    assert found[clinic.doctor_id]["hospitals"][0]["hospital_id"] == clinic.hospital_id
    r = await client.get("/api/v1/doctors", params={"language": "sv"})
    assert clinic.doctor_id not in {d["id"] for d in r.json()}
    r = await client.get("/api/v1/doctors", params={"city": "Nowhere"})
    assert r.json() == []
    city = found[clinic.doctor_id]["hospitals"][0]["city"]
    if city:
        r = await client.get("/api/v1/doctors", params={"city": city})
        assert clinic.doctor_id in {d["id"] for d in r.json()}
    # The licence is unique.
    r = await client.post("/api/v1/doctors", headers=clinic.admin.headers, json={
        "full_name": "Dup", "license_no": found[clinic.doctor_id]["license_no"],
        "specialty": "x"})
    assert r.status_code == 409 and r.json()["code"] == "doctor_exists"
    r = await client.post("/api/v1/doctors", headers=clinic.admin.headers, json={
        "full_name": "Not a doctor", "license_no": f"X-{uuid.uuid4().hex[:8]}",
        "specialty": "x", "user_id": str(clinic.admin.user_id)})
    assert r.status_code == 422 and r.json()["code"] == "not_a_doctor_user"
    # A patient cannot create doctors; an admin of another hospital cannot touch this one.
    r = await client.post(f"/api/v1/hospitals/{clinic.hospital_id}/departments",
                          json={"name": "x"}, headers=clinic.doctor.headers)
    assert r.status_code == 403


async def test_the_sweeper_announces_expiry_without_any_request(app, client, clinic):
    redis = app.state.redis
    async with app.state.session_factory() as session:
        doctor = await session.get(Doctor, uuid.UUID(clinic.doctor_id))
        await availability.set_state(db_session=session, redis=redis, doctor=doctor,
                                     state="busy", hospital_id=None, settings=SHORT)
    sweeper = asyncio.create_task(
        availability.sweep_presence(app.state.session_factory, redis, settings=SHORT))
    try:
        for _ in range(40):
            await asyncio.sleep(0.1)
            async with app.state.session_factory() as session:
                row = await session.get(DoctorAvailabilityState, uuid.UUID(clinic.doctor_id))
            if row.current_state == "offline":
                break
        assert row.current_state == "offline"
    finally:
        sweeper.cancel()


async def test_search_survives_a_redis_outage(app, client, clinic):
    import redis.asyncio as aioredis

    dead = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        states = await availability.live_states(
            dead, [uuid.UUID(clinic.doctor_id)], settings=app.state.care_settings
        )
    finally:
        await dead.aclose()
    assert states == {uuid.UUID(clinic.doctor_id): "offline"}
