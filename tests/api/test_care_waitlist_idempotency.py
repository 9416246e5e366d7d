"""Joining a waitlist honours Idempotency-Key (issue 25: the patient app's offline outbox retries
with the same key), like booking does."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import jwt

from data.base import utcnow
from tests.conftest import sign_in
from tests.support.care import make_patient


def window(clinic, days: int = 7) -> dict:
    start = utcnow() + timedelta(days=1)
    return {"doctor_id": clinic.doctor_id, "not_before": start.isoformat(),
            "not_after": (start + timedelta(days=days)).isoformat()}


async def join(client, headers, body, key: str | None):
    extra = {"Idempotency-Key": key} if key else {}
    return await client.post("/api/v1/appointments/waitlist", json=body,
                             headers={**headers, **extra})


async def entries(client, patient) -> list[dict]:
    return (await client.get("/api/v1/appointments/waitlist", headers=patient.headers)).json()


async def test_a_retry_with_the_same_key_returns_the_first_entry(client, clinic, patient):
    key, body = str(uuid.uuid4()), window(clinic)
    first = await join(client, patient.headers, body, key)
    again = await join(client, patient.headers, dict(body), key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json()["id"] == first.json()["id"]
    assert len(await entries(client, patient)) == 1
    # Without a key every call is a new entry (the old behaviour, unchanged).
    await join(client, patient.headers, window(clinic), None)
    assert len(await entries(client, patient)) == 2


async def test_the_same_key_with_another_body_is_422(client, clinic, patient):
    key = str(uuid.uuid4())
    assert (await join(client, patient.headers, window(clinic), key)).status_code == 201
    other = await join(client, patient.headers, window(clinic, days=3), key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


async def test_keys_are_per_caller(app, client, clinic, patient):
    key, body = str(uuid.uuid4()), window(clinic)
    someone = await make_patient(app, client, name="Other Patient")
    mine = await join(client, patient.headers, body, key)
    theirs = await join(client, someone.headers, body, key)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert len(await entries(client, someone)) == 1


async def test_two_retries_at_once_make_one_entry(client, clinic, patient):
    key = str(uuid.uuid4())
    body = window(clinic)
    answers = await asyncio.gather(*(join(client, patient.headers, body, key) for _ in range(2)))
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert len(await entries(client, patient)) == 1


async def test_other_roles_expired_tokens_and_garbage_keys_are_refused(
    app, client, clinic, identity_settings
):
    for role in ("doctor", "emergency_operator"):
        user = await sign_in(app, client, role)
        r = await join(client, user.headers, window(clinic), str(uuid.uuid4()))
        assert r.status_code == 403, (role, r.text)
    patient = await make_patient(app, client)
    for bad in ("x" * 300, "\x07bell"):
        r = await join(client, patient.headers, window(clinic), bad)
        assert r.status_code in (400, 422), (bad, r.status_code, r.text)
    now = utcnow()
    expired = jwt.encode(
        {"sub": str(uuid.uuid4()), "roles": ["patient"], "iat": now, "typ": "access",
         "iss": identity_settings.token_issuer, "aud": identity_settings.token_audience,
         "exp": now - timedelta(seconds=1)},
        identity_settings.secret_key,
    )
    r = await join(client, {"Authorization": f"Bearer {expired}"}, window(clinic), "k-1")
    assert r.status_code == 401
    assert await entries(client, patient) == []
