"""POST /api/v1/auth/register: anyone may become a patient, never anything more (issue 25)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import jwt

from data.base import utcnow
from tests.conftest import PASSWORD, distinct_client, sign_in

ROLES = ("patient", "doctor", "hospital_admin", "emergency_operator", "super_admin")


def new_body(**extra) -> dict:
    return {"email": f"new-{uuid.uuid4().hex[:8]}@lifeline.test", "password": PASSWORD,
            "full_name": "Sana Iqbal", **extra}


async def register(client, body: dict, headers: dict | None = None):
    async with distinct_client(client) as own:
        return await own.post("/api/v1/auth/register", json=body, headers=headers or {})


async def test_sign_up_makes_a_signed_in_patient_with_a_profile(client):
    body = new_body(phone="+358 40 123 4567")
    r = await register(client, body)
    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    me = (await client.get("/api/v1/users/me", headers=headers)).json()
    assert me["roles"] == ["patient"] and me["email"] == body["email"]
    profile = await client.get("/api/v1/patients/me/profile", headers=headers)
    assert profile.status_code == 200, profile.text
    assert profile.json()["full_name"] == "Sana Iqbal"
    assert profile.json()["phone"] == "+358401234567"
    # The refresh token works like a sign-in's.
    renewed = await client.post("/api/v1/auth/refresh",
                                json={"refresh_token": r.json()["refresh_token"]})
    assert renewed.status_code == 200


async def test_a_caller_of_any_role_still_gets_only_a_patient_account(app, client):
    from tests.support.care import demo_hospitals

    hospital = (await demo_hospitals(app))[0]
    for role in ROLES:
        caller = await sign_in(app, client, role,
                               hospital_id=hospital if role == "hospital_admin" else None)
        r = await register(client, new_body(), headers=caller.headers)
        assert r.status_code == 201, (role, r.text)
        token = r.json()["access_token"]
        me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["roles"] == ["patient"], role


async def test_an_expired_token_is_refused_and_creates_nothing(app, client, identity_settings):
    user = await sign_in(app, client, "super_admin")
    now = utcnow()
    claims = {"sub": str(user.user_id), "roles": ["super_admin"], "iat": now, "typ": "access",
              "iss": identity_settings.token_issuer, "aud": identity_settings.token_audience,
              "exp": now - timedelta(seconds=1)}
    expired = jwt.encode(claims, identity_settings.secret_key)
    body = new_body()
    r = await register(client, body, headers={"Authorization": f"Bearer {expired}"})
    # As on every route, a bad bearer is a 401 (the page signs up without one).
    assert r.status_code == 401 and r.json()["code"] == "invalid_token", r.text
    again = await register(client, body)
    assert again.status_code == 201, again.text


async def test_garbage_is_a_problem_never_a_500(client):
    bodies = [
        {**new_body(), "roles": ["super_admin"]},        # strict body: no role smuggling
        {**new_body(), "password": "password123"},        # the password policy
        {**new_body(), "email": "not-an-email"},
        {**new_body(), "phone": "12345"},
        {**new_body(), "full_name": ""},
        {"email": "x@y.z"},
        [],
        "null",
    ]
    for body in bodies:
        r = await register(client, body)
        assert r.status_code == 422, (body, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    async with distinct_client(client) as own:
        r = await own.post("/api/v1/auth/register", content=b"{not json",
                           headers={"Content-Type": "application/json"})
    # Unparseable JSON is the app's 400 problem, as on every route.
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_taken_email_is_409_and_signs_nobody_in(app, client):
    existing = await sign_in(app, client, "doctor")
    r = await register(client, new_body(email=existing.email.upper()))
    assert r.status_code == 409 and r.json()["code"] == "user_exists"
    assert "access_token" not in r.json()


async def test_two_sign_ups_of_one_email_at_once_make_one_account(client):
    body = new_body()
    answers = await asyncio.gather(*(register(client, body) for _ in range(2)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409], [a.text for a in answers]
