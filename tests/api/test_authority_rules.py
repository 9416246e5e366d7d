"""The rules behind issue 18's authority fixes, one by one: event shaping, break-glass reasons,
the revocation list (real Redis), the socket watch, and the treatment window (real database)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from identity import revocation
from identity.authz import meaningful_reason
from identity.tokens import AccessClaims
from realtime.authority import (
    AUTHORITY_REVOKED,
    TOKEN_EXPIRED,
    HeldSocket,
    SocketAuthority,
    TooManySockets,
)
from realtime.authz import Principal, shape
from tests.conftest import REDIS_URL

CASE = str(uuid.uuid4())
ALERT = {"case_id": CASE, "status": "dispatched", "action": "alert",
         "alert": {"kind": "sms_failed", "level": "red",
                   "message": "SMS to +358401234567 failed; call the crew"}}


def test_the_reporter_sees_their_case_progress_and_no_staff_business():
    reporter = Principal.for_case(CASE)
    assert shape(reporter, "case.alert", ALERT) is None
    shown = shape(reporter, "case.triage", {
        "case_id": CASE, "status": "triaged", "severity": "high", "actor": "doctor:abc",
        "notes": "x", "crew_phones": ["+358401234567"], "new_field": 1})
    assert shown == {"case_id": CASE, "status": "triaged", "severity": "high"}


def test_hospital_admins_get_alerts_without_their_text_and_operators_get_everything():
    admin = Principal(roles=frozenset({"hospital_admin"}), hospital_id=str(uuid.uuid4()))
    shown = shape(admin, "case.alert", ALERT)
    assert shown["alert"] == {"kind": "sms_failed", "level": "red"}
    operator = Principal(roles=frozenset({"emergency_operator"}))
    assert shape(operator, "case.alert", ALERT) is ALERT


@pytest.mark.parametrize(("reason", "ok"), [
    ("aaaaaaaaaaaaaaa", False), ("x x x x x x x x", False), ("1234567890 123", False),
    ("because I can", False), ("patient is unconscious", True),
    ("unconscious patient, no records", True), ("too short", False),
    ("         ", False), (None, False),
])
def test_a_break_glass_reason_must_say_something(reason, ok):
    assert meaningful_reason(reason) is ok


def claims(*, expires_in: float = 600, issued_at: float | None = None) -> AccessClaims:
    now = time.time()
    return AccessClaims(
        user_id=uuid.uuid4(), roles=frozenset({"emergency_operator"}), hospital_id=None,
        mfa=True, session_id=uuid.uuid4(), issued_at=now if issued_at is None else issued_at,
        expires_at=now + expires_in,
    )


async def test_the_revocation_list_kills_older_tokens_of_a_user_and_signed_out_sessions():
    redis = aioredis.from_url(REDIS_URL)
    try:
        old, other = claims(issued_at=time.time() - 5), claims()
        assert not await revocation.is_revoked(redis, old)
        await revocation.revoke_user(redis, old.user_id)
        assert await revocation.is_revoked(redis, old)
        fresh = AccessClaims(**{**old.__dict__, "issued_at": time.time() + 0.01})
        assert not await revocation.is_revoked(redis, fresh)  # signed in again afterwards
        await revocation.revoke_session(redis, other.session_id)
        assert await revocation.is_revoked(redis, other)
        assert await redis.ttl(revocation.user_key(old.user_id)) <= revocation.TTL_S
        assert await revocation.revoked_among(redis, [old, fresh, other]) == {old, other}
    finally:
        await redis.aclose()


def held(authority_claims: AccessClaims | None, log: list, *, principal: str = "user:1",
         address: str = "10.0.0.1") -> HeldSocket:
    return HeldSocket(principal=principal, address=address,
                      close=lambda code, reason: log.append((code, reason)),
                      notify=lambda message: log.append(message), claims=authority_claims)


async def test_the_socket_watch_asks_for_renewal_then_closes_at_expiry_or_revocation():
    redis = aioredis.from_url(REDIS_URL)
    try:
        watch = SocketAuthority(redis=redis, per_principal=5, per_address=5)
        expiring, revoked, fine = [], [], []
        a = held(claims(expires_in=30), expiring)
        b = held(claims(issued_at=time.time() - 5), revoked, principal="user:2")
        c = held(claims(), fine, principal="user:3")
        for socket_ in (a, b, c):
            watch.admit(socket_)
        await revocation.revoke_user(redis, b.claims.user_id)
        await watch.sweep()
        assert expiring[0]["type"] == "reauth_required" and len(expiring) == 1
        assert revoked == [(AUTHORITY_REVOKED, "revoked")]
        assert fine == []
        watch.renew(a, claims(expires_in=600))
        await watch.sweep(now=time.time() + 700)
        assert (TOKEN_EXPIRED, "token_expired") in expiring
    finally:
        await redis.aclose()


async def test_sockets_are_capped_per_principal_and_per_address():
    watch = SocketAuthority(redis=None, per_principal=2, per_address=3)  # type: ignore[arg-type]
    log: list = []
    first = [held(None, log, principal="case:1") for _ in range(2)]
    for socket_ in first:
        watch.admit(socket_)
    with pytest.raises(TooManySockets):
        watch.admit(held(None, log, principal="case:1"))
    watch.admit(held(None, log, principal="case:2"))
    with pytest.raises(TooManySockets):
        watch.admit(held(None, log, principal="case:3"))  # the address is full
    watch.release(first[0])
    watch.admit(held(None, log, principal="case:1"))


async def test_an_appointment_outside_the_window_is_no_treatment_relationship(app, client):
    from care.models import Appointment
    from data.base import utcnow
    from tests.support.care import free_slots, make_clinic, make_patient

    clinic = await make_clinic(app, client)
    patient = await make_patient(app, client)
    slot = (await free_slots(client, clinic, days_ahead=5))[0]
    r = await client.post("/api/v1/appointments", headers=patient.headers, json={
        "doctor_id": clinic.doctor_id, "hospital_id": slot["hospital_id"], "start": slot["start"]})
    assert r.status_code == 201, r.text
    appointment_id = uuid.UUID(r.json()["id"])
    chart = f"/api/v1/patients/{patient.patient_id}/records"
    r = await client.get(chart, headers=clinic.doctor.headers)
    assert r.status_code == 403, "five days ahead is outside the 72 h window"

    async def move(start) -> None:
        async with app.state.session_factory() as session:
            appointment = await session.get(Appointment, appointment_id)
            appointment.scheduled_start = start
            appointment.scheduled_end = start + timedelta(minutes=15)
            await session.commit()

    await move(utcnow() + timedelta(days=1))  # tomorrow: within the window
    r = await client.get(chart, headers=clinic.doctor.headers)
    assert r.status_code == 200 and r.json()["access"]["basis"] == "treatment"
    await move(utcnow() - timedelta(days=10))  # long past: no longer
    assert (await client.get(chart, headers=clinic.doctor.headers)).status_code == 403
