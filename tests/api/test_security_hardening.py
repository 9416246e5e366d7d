"""Abuse limits, security headers, CORS, no-store, log hygiene and bandit."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import httpx

from console_api.app import create_app
from identity.settings import IdentitySettings
from tests.conftest import (
    SEEDED_PII,
    add_unit,
    bounded,
    distinct_client,
    pii_in_logs,
    random_phone,
    sos_body,
)

CASES = "/api/v1/emergency/cases"
ROOT = Path(__file__).resolve().parents[2]
BANDIT_PATHS = [
    "console_api",
    "identity",
    "data",
    "dispatch",
    "routing",
    "facilities",
    "realtime",
    "care",
    "messaging",
    "geocoding",
    "fleet_coverage",
]


async def test_sos_over_the_phone_limit_is_accepted_but_flagged(app, client, world, monkeypatch):
    monkeypatch.setattr(app.state.identity_settings, "sos_window_s", 86_400)  # no window edge
    phone = random_phone()
    limit = app.state.identity_settings.sos_per_phone
    flags = []
    # From an address of its own: the shared client's address may be over the per-IP limit.
    async with distinct_client(client) as caller:
        for _ in range(limit + 2):
            r = await caller.post(CASES, json=sos_body(reporter_phone=phone))
            assert r.status_code == 201  # a real emergency is never blocked outright
            flags.append(r.json()["suspected_abuse"])
    assert flags == [False] * limit + [True, True]
    flagged = await client.get(f"{CASES}/{r.json()['id']}", headers=world.operator.headers)
    assert flagged.json()["suspected_abuse"] is True


async def test_sos_over_the_ip_limit_is_flagged(app, world, monkeypatch):
    monkeypatch.setattr(app.state.identity_settings, "sos_per_ip", 2)
    monkeypatch.setattr(app.state.identity_settings, "sos_window_s", 86_400)  # no window edge
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4242))
    async with bounded(
        httpx.AsyncClient(transport=transport, base_url="http://lifeline.test")
    ) as http:
        flags = [
            (await http.post(CASES, json=sos_body())).json()["suspected_abuse"] for _ in range(3)
        ]
    assert flags == [False, False, True]


async def test_login_from_one_ip_is_limited_with_retry_after(app, monkeypatch):
    monkeypatch.setattr(app.state.identity_settings, "login_per_ip", 3)
    monkeypatch.setattr(app.state.identity_settings, "login_ip_window_s", 86_400)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 4242))
    async with bounded(
        httpx.AsyncClient(transport=transport, base_url="http://lifeline.test")
    ) as http:
        codes = []
        for i in range(4):
            r = await http.post(
                "/api/v1/auth/login",
                json={"email": f"spray{i}@lifeline.test", "password": "x" * 12},
            )
            codes.append(r.status_code)
    assert codes == [401, 401, 401, 429]
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_api_calls_over_the_limit_get_429_but_an_sos_never_does(app, monkeypatch):
    monkeypatch.setattr(app.state.identity_settings, "api_per_minute", 3)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4242))
    async with bounded(
        httpx.AsyncClient(transport=transport, base_url="http://lifeline.test")
    ) as http:
        codes = [(await http.get("/api/v1/hospitals")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = await http.get("/api/v1/routing/closures")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert (await http.post(CASES, json=sos_body())).status_code == 201
        assert (await http.get("/health")).status_code == 200


async def test_security_headers_and_no_store_on_personal_data(client, world):
    case = await client.get(f"{CASES}/{world.bound_case['id']}", headers=world.operator.headers)
    for response in (case, await client.get("/health"), await client.get("/api/v1/hospitals")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert "max-age=" in response.headers["Strict-Transport-Security"]
    assert case.headers["Cache-Control"] == "no-store"
    me = await client.get("/api/v1/users/me", headers=world.patient.headers)
    assert me.headers["Cache-Control"] == "no-store"
    denied = await client.get(CASES)
    assert denied.headers["Cache-Control"] == "no-store"
    sos = await client.post(CASES, json=sos_body())
    assert sos.headers["Cache-Control"] == "no-store"  # carries the reporter's phone and case token
    hospitals = await client.get("/api/v1/hospitals")
    assert hospitals.headers.get("Cache-Control") != "no-store"  # public directory


async def test_cors_allows_only_the_configured_origins(identity_settings):
    allowed = "https://console.lifeline.example"
    settings = IdentitySettings(secret_key=identity_settings.secret_key, cors_origins=[allowed])
    application = create_app(identity_settings=settings)
    transport = httpx.ASGITransport(app=application)
    async with bounded(
        httpx.AsyncClient(transport=transport, base_url="http://lifeline.test")
    ) as http:

        def preflight(origin: str):
            return http.options(
                CASES,
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "Content-Type",
                },
            )

        ok = await preflight(allowed)
        assert ok.headers["Access-Control-Allow-Origin"] == allowed
        assert "Access-Control-Allow-Credentials" not in ok.headers
        evil = await preflight("https://evil.example")
        assert "Access-Control-Allow-Origin" not in evil.headers


async def test_no_seeded_personal_data_in_the_logs(app, client, world):
    async with app.state.session_factory() as session:
        from identity.models import Patient

        session.add(Patient(full_name="Zainab Logcheck", national_id="61101-7654321-3"))
        await session.commit()
    SEEDED_PII.update({"Zainab Logcheck", "61101-7654321-3"})
    phone = random_phone()
    await client.post(CASES, json=sos_body(reporter_phone=phone, notes="Zainab Logcheck, asthma"))
    await client.post(CASES, json={**sos_body(reporter_phone=phone), "lat": "north"})  # a 422
    # Even a careless log line is masked before any handler sees it.
    logging.getLogger("lifeline.careless").warning("calling back %s", phone)
    assert not pii_in_logs()
    # The whole suite is checked again when it finishes (tests/conftest.py).


async def test_errors_say_nothing_internal(client):
    r = await client.get(f"{CASES}/not-a-uuid", headers={"Authorization": "Bearer x.y.z"})
    assert r.status_code == 401 and "Traceback" not in r.text and "jwt" not in r.text.lower()


def test_bandit_finds_nothing_of_medium_severity_or_more():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("bandit")), "-ll", "-q", "-r", *BANDIT_PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]


async def test_gps_fixes_are_limited_per_unit_not_per_caller(app, client, operator, monkeypatch):
    """A gateway relaying a fleet's fixes under one token is not throttled as one caller."""
    units = [await add_unit(client, operator.headers) for _ in range(2)]
    monkeypatch.setattr(app.state.identity_settings, "api_per_minute", 3)
    codes = {}
    for unit in units:
        codes[unit["id"]] = []
        for second in range(4):
            fix = {"lat": 60.17, "lng": 24.94, "recorded_at": f"2026-11-25T12:00:0{second}Z"}
            r = await client.post(
                f"/api/v1/units/{unit['id']}/position", json=fix, headers=operator.headers
            )
            codes[unit["id"]].append(r.status_code)
    for unit_codes in codes.values():
        assert unit_codes[:3] == [unit_codes[0]] * 3 and unit_codes[0] < 300
        assert unit_codes[3] == 429
