"""Sign-in, token rotation with reuse detection, logout, and the current user."""

from __future__ import annotations

from datetime import timedelta

import jwt

from data.base import utcnow
from tests.conftest import PASSWORD, sign_in


async def test_login_me_refresh_logout(app, client):
    user = await sign_in(app, client, "emergency_operator")
    me = await client.get("/api/v1/users/me", headers=user.headers)
    assert me.status_code == 200
    assert me.json()["roles"] == ["emergency_operator"] and me.json()["email"] == user.email

    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert rotated.status_code == 200
    new_refresh = rotated.json()["refresh_token"]
    assert new_refresh != user.refresh_token

    # Presenting the spent token again is a theft signal: the whole family is revoked.
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert reuse.status_code == 401 and reuse.json()["code"] == "refresh_token_reused"
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": new_refresh})
    assert after.status_code == 401


async def test_logout_revokes_the_refresh_token(app, client):
    user = await sign_in(app, client, "patient")
    assert (
        await client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    ).status_code == 204
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status_code == 401


async def test_wrong_password_and_unknown_user_look_the_same(app, client):
    user = await sign_in(app, client, "patient")
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "nope-nope-nope"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "ghost@lifeline.test", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_login_body_is_strict(client):
    r = await client.post(
        "/api/v1/auth/login", json={"email": "a@b.c", "password": "x", "role": "super_admin"}
    )
    assert r.status_code == 422


async def test_tokens_are_checked_for_algorithm_audience_and_expiry(app, client, identity_settings):
    user = await sign_in(app, client, "emergency_operator")
    now = utcnow()
    base = {"sub": str(user.user_id), "roles": ["super_admin"], "iat": now, "typ": "access",
            "iss": identity_settings.token_issuer, "aud": identity_settings.token_audience,
            "exp": now + timedelta(minutes=5)}
    expired = jwt.encode({**base, "exp": now - timedelta(seconds=1)}, identity_settings.secret_key)
    wrong_aud = jwt.encode({**base, "aud": "someone-else"}, identity_settings.secret_key)
    forged = jwt.encode(base, "not-the-secret-but-long-enough-0123456789")
    unsigned = jwt.encode(base, None, algorithm="none")
    for token in (expired, wrong_aud, forged, unsigned):
        r = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token


async def test_access_tokens_live_at_most_15_minutes(app, client, identity_settings):
    user = await sign_in(app, client, "patient")
    token = user.headers["Authorization"].split()[1]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 15 * 60


async def test_health_reports_database_and_redis(client):
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_unknown_route_and_method_are_problem_json(client):
    r = await client.get("/api/v1/nowhere")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.delete("/api/v1/emergency/cases")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


async def test_openapi_is_served(client):
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert (
        "/api/v1/emergency/cases" in paths
        and "/api/v1/emergency/cases/{case_id}/cancel" in paths
    )


async def test_a_bearer_token_is_verified_once_per_request(client, operator, monkeypatch):
    """The app-wide access check verifies the token; handlers reuse its claims."""
    from console_api import access, deps
    from identity import tokens

    calls = []

    def counting(token, **kwargs):
        calls.append(token)
        return tokens.verify_access_token(token, **kwargs)

    monkeypatch.setattr(access, "verify_access_token", counting)
    monkeypatch.setattr(deps, "verify_access_token", counting)
    r = await client.get("/api/v1/users/me", headers=operator.headers)
    assert r.status_code == 200
    assert len(calls) == 1
