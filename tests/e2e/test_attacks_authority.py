"""Attack replay (issue 18, items 5-9, 12, 14): authority that outlived itself, leaks, limits.

Black box: `lifeline serve` runs in its own process, started as `make run` starts it; the tests
act as outsiders over HTTP, WebSocket and SSE, and as an administrator through the `lifeline`
command. Each test replays one attack the outside review found and asserts it now fails.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import jwt
import psycopg
import pytest
import pytest_asyncio

from console_api.server_limits import REQUEST_TIMEOUT
from identity.settings import DEV_SECRET
from tests.conftest import sos_body
from tests.support.outsider import (
    Account,
    Socket,
    account,
    cli,
    crew_token_from,
    provision,
    serve,
    service_env,
    sign_in,
)
from tests.support.servers import Server

CASES = "/api/v1/emergency/cases"
CASE_CHANNEL = "emergency.case.updated"
REASON = "unconscious patient brought in, no records on file"


@pytest.fixture(scope="module")
def env(database_url: str) -> dict[str, str]:
    """The environment `make run` gives the server and the CLI."""
    return service_env(database_url)


@pytest.fixture(scope="module")
def server(env: dict[str, str]) -> Iterator[Server]:
    """One `lifeline serve` for the module."""
    server = serve(env)
    yield server
    server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http, timeout=20) as client:
        yield client


async def dispatched_case(env, http: httpx.AsyncClient, operator: Account) -> dict:
    """An SOS, triaged and dispatched with a new unit; returns case, unit and crew token."""
    r = await http.post(CASES, json=sos_body(), headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    case = r.json()
    r = await http.post(f"{CASES}/{case['id']}/triage", json={"severity": "high"},
                        headers=operator.headers)
    assert r.status_code == 200, r.text
    unit = (await http.post("/api/v1/units", headers=operator.headers, json={
        "call_sign": f"U-{uuid.uuid4().hex[:8]}", "type": "ALS", "station_lat": 60.1690,
        "station_lng": 24.9400, "crew_phones": ["+358401110000"],
    })).json()
    r = await http.post(f"{CASES}/{case['id']}/dispatch", json={"unit_id": unit["id"]},
                        headers=operator.headers)
    assert r.status_code == 200, r.text
    outbox = (await http.get("/api/v1/sms/outbox", params={"case_id": case["id"]},
                             headers=operator.headers)).json()
    token = crew_token_from(next(m["body"] for m in outbox if "/crew/" in m["body"]))
    return {"case": r.json(), "unit": unit, "crew_token": token}


def ping() -> dict:
    """One GPS fix, as the crew page sends it."""
    return {"lat": 60.1701, "lng": 24.9402,
            "recorded_at": datetime.now(UTC).isoformat()}


def fix(n: int, unit_id: str) -> dict:
    return {"type": "fix", "n": n, "unit_id": unit_id, **ping()}


# --------------------------------------------------------------------------- item 5


async def test_a_crew_link_stops_moving_the_ambulance_when_its_case_ends(env, server, http):
    operator = await account(env, http, "emergency_operator")
    job = await dispatched_case(env, http, operator)
    unit_id, token = job["unit"]["id"], job["crew_token"]
    r = await http.post(f"/api/v1/units/{unit_id}/position", json=ping(),
                        headers={"X-Crew-Token": token})
    assert r.status_code == 200, r.text
    live = await Socket.open(f"{server.ws}/telemetry", {"type": "auth", "crew_token": token})
    assert (await live.next())["type"] == "ready"
    await live.send(fix(1, unit_id))
    assert (await live.next_of("ack"))["n"] == 1

    # The case is cancelled: every use of the link ends, the open socket included.
    r = await http.post(f"{CASES}/{job['case']['id']}/cancel",
                        json={"reason": "duplicate call"}, headers=operator.headers)
    assert r.status_code == 200, r.text
    assert await live.closed_with(timeout=8) == 4011
    r = await http.post(f"/api/v1/units/{unit_id}/position", json=ping(),
                        headers={"X-Crew-Token": token})
    assert r.status_code == 403 and r.json()["code"] == "crew_token_expired", r.text
    late = await Socket.open(f"{server.ws}/telemetry", {"type": "auth", "crew_token": token})
    message = await late.next()
    assert message["code"] == "crew_token_expired"
    assert await late.closed_with() == 4001
    assert (await http.get(f"/api/v1/crew/{token}")).status_code == 403


async def test_a_crew_link_dies_when_its_unit_goes_to_another_case(env, http):
    operator = await account(env, http, "emergency_operator")
    job = await dispatched_case(env, http, operator)
    unit_id, token = job["unit"]["id"], job["crew_token"]
    # The crew finishes the job through its link; the unit is free and sent elsewhere.
    for status in ("en_route", "on_scene", "transporting", "at_hospital", "handover_complete"):
        r = await http.post(f"/api/v1/crew/{token}/status", json={"status": status})
        assert r.status_code == 200, r.text
    other = (await http.post(CASES, json=sos_body())).json()
    await http.post(f"{CASES}/{other['id']}/triage", json={"severity": "high"},
                    headers=operator.headers)
    r = await http.post(f"{CASES}/{other['id']}/dispatch", json={"unit_id": unit_id},
                        headers=operator.headers)
    assert r.status_code == 200, r.text
    r = await http.post(f"/api/v1/units/{unit_id}/position", json=ping(),
                        headers={"X-Crew-Token": token})
    assert r.status_code == 403 and r.json()["code"] == "crew_token_expired"


# --------------------------------------------------------------------------- item 6


def forged_pwd_only_token(user_id: str, roles: list[str], minutes: float = 10) -> str:
    """A staff token whose session never passed the second factor (what refresh used to mint);
    signed with the development secret the `make run` server uses."""
    now = time.time()
    return jwt.encode({
        "sub": user_id, "roles": roles, "hid": None, "sid": None, "iat": now, "nbf": int(now),
        "exp": int(now + minutes * 60), "iss": "lifeline", "aud": "lifeline-api",
        "jti": uuid.uuid4().hex, "typ": "access", "amr": ["pwd"],
    }, DEV_SECRET, algorithm="HS256")


async def test_refresh_never_mints_a_staff_token_without_the_second_factor(env, http, database_url):
    email, _ = provision(env, "patient", totp=False)
    patient = await sign_in(http, email, None)
    # An administrator makes the account an operator; the password-only session must not
    # turn into a staff token.
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO user_roles (user_id, role_id) SELECT %s, id FROM roles "
            "WHERE name = 'emergency_operator'", (patient.user_id,),
        )
    r = await http.post("/api/v1/auth/refresh", json={"refresh_token": patient.refresh})
    assert r.status_code == 401 and r.json()["code"] == "mfa_required", r.text


async def test_every_channel_refuses_a_staff_token_without_the_second_factor(env, server, http):
    operator = await account(env, http, "emergency_operator")
    token = forged_pwd_only_token(operator.user_id, ["emergency_operator"])
    assert (await http.get(CASES, headers={"Authorization": f"Bearer {token}"})).status_code == 403
    for first in (None, {"type": "auth", "token": token}):
        url = server.ws + (f"?token={token}" if first is None else "")
        sock = await Socket.open(url, first)
        assert (await sock.next())["code"] == "mfa_required"
        assert await sock.closed_with() == 4001
    sock = await Socket.open(f"{server.ws}/telemetry?token={token}")
    assert (await sock.next())["code"] == "mfa_required"
    r = await http.get("/api/v1/realtime/sse", params={"channel": CASE_CHANNEL, "token": token})
    assert r.status_code == 403 and r.json()["code"] == "mfa_required"


# --------------------------------------------------------------------------- item 7


async def open_console(server: Server, token: str) -> Socket:
    sock = await Socket.open(server.ws, {"type": "auth", "token": token})
    assert (await sock.next())["type"] == "welcome"
    await sock.send({"type": "subscribe", "channel": CASE_CHANNEL})
    assert (await sock.next_of("subscribed"))["channel"] == CASE_CHANNEL
    return sock


@pytest.mark.parametrize("how", ["logout", "suspend", "delete", "remove-role"])
async def test_sockets_and_tokens_end_with_their_authority(env, server, http, how):
    email, secret = provision(env, "emergency_operator")
    operator = await sign_in(http, email, secret)
    sock = await open_console(server, operator.access)
    if how == "logout":
        r = await http.post("/api/v1/auth/logout", json={"refresh_token": operator.refresh})
        assert r.status_code == 204
    elif how == "remove-role":
        cli(env, "users", "remove-role", email, "emergency_operator")
    else:
        cli(env, "users", how, email)
    # Within seconds of the revocation (the worker's watch runs every second).
    assert await sock.closed_with(timeout=5) == 4011
    r = await http.get(CASES, headers=operator.headers)
    assert r.status_code == 401 and r.json()["code"] == "token_revoked", r.text
    # An SOS is never refused: with a revoked token it is taken as anonymous.
    r = await http.post(CASES, json=sos_body(), headers=operator.headers)
    assert r.status_code == 201, r.text
    again = await Socket.open(f"{server.ws}?token={operator.access}")
    assert (await again.next())["code"] == "token_revoked"
    r = await http.get("/api/v1/realtime/sse",
                       params={"channel": CASE_CHANNEL, "token": operator.access})
    assert r.status_code == 401


async def test_an_sse_stream_ends_when_its_user_is_suspended(env, server, http):
    email, secret = provision(env, "emergency_operator")
    operator = await sign_in(http, email, secret)
    params = {"channel": CASE_CHANNEL, "token": operator.access}
    async with http.stream("GET", "/api/v1/realtime/sse", params=params,
                           timeout=httpx.Timeout(20, read=15)) as stream:
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        assert (await anext(lines)).startswith(": subscribed")
        cli(env, "users", "suspend", email)
        started = time.monotonic()  # after the command: the CLI's own start-up is not ours
        async for _ in lines:
            pass  # the server ends the stream
        assert time.monotonic() - started < 8


def short_lived(account_: Account, roles: list[str], seconds: float) -> str:
    """The account's own token as it looks when its 15 minutes are nearly up (same session)."""
    claims = jwt.decode(account_.access, DEV_SECRET, algorithms=["HS256"],
                        audience="lifeline-api")
    claims["exp"] = int(time.time() + seconds)
    claims["roles"] = roles
    return jwt.encode(claims, DEV_SECRET, algorithm="HS256")


async def test_a_socket_is_closed_at_token_expiry_unless_it_reauthenticates(env, server, http):
    operator = await account(env, http, "emergency_operator")
    expiring = short_lived(operator, ["emergency_operator"], 3)
    sock = await open_console(server, expiring)
    assert (await sock.next_of("reauth_required"))["expires_at"] <= time.time() + 3
    assert await sock.closed_with(timeout=8) == 4010

    # The same, renewed in-band with a fresh token before expiry: it stays open past it.
    renewed = await open_console(server, short_lived(operator, ["emergency_operator"], 3))
    await renewed.next_of("reauth_required")
    await renewed.send({"type": "auth", "token": operator.access})
    assert (await renewed.next_of("reauthenticated"))["expires_at"] > time.time() + 60
    assert await renewed.closed_with(timeout=5) is None
    # Someone else's token is no renewal: the socket ends.
    stranger = await account(env, http, "emergency_operator")
    await renewed.send({"type": "auth", "token": stranger.access})
    assert await renewed.closed_with(timeout=5) == 4011


# --------------------------------------------------------------------------- item 9


async def test_the_reporter_channel_carries_no_staff_business(env, server, http):
    operator = await account(env, http, "emergency_operator")
    sos = (await http.post(CASES, json=sos_body())).json()
    reporter = await Socket.open(server.ws, {
        "type": "auth", "case_id": sos["id"], "case_token": sos["case_token"]})
    assert (await reporter.next())["type"] == "welcome"
    await reporter.send({"type": "subscribe", "channel": CASE_CHANNEL})
    await reporter.next_of("subscribed")
    console = await open_console(server, operator.access)
    # A doctor of another hospital breaks the glass on the case: a staff alert naming them.
    doctor = await account(env, http, "doctor")
    r = await http.get(f"{CASES}/{sos['id']}",
                       headers={**doctor.headers, "X-Break-Glass-Reason": REASON})
    assert r.status_code == 200, r.text
    r = await http.post(f"{CASES}/{sos['id']}/triage", json={"severity": "high"},
                        headers=operator.headers)
    assert r.status_code == 200, r.text
    # The console sees the alert; the reporter sees the triage and nothing of the alert.
    alert = await console.wait_for(lambda m: m.get("event_type") == "case.alert")
    assert doctor.user_id in json.dumps(alert)
    await reporter.wait_for(lambda m: m.get("event_type") == "case.triage")
    frames = json.dumps(reporter.seen)
    assert "case.alert" not in frames and doctor.user_id not in frames
    assert "+358" not in frames and "actor" not in frames


async def test_a_hospital_admin_sees_only_the_units_bound_for_their_hospital(env, http):
    operator = await account(env, http, "emergency_operator")
    job = await dispatched_case(env, http, operator)
    hospital = job["case"]["destination_hospital_id"]
    idle = (await http.post("/api/v1/units", headers=operator.headers, json={
        "call_sign": f"U-{uuid.uuid4().hex[:8]}", "type": "BLS", "station_lat": 60.169,
        "station_lng": 24.94, "crew_phones": ["+358402220000"]})).json()
    admin = await account(env, http, "hospital_admin", hospital_id=hospital)
    units = (await http.get("/api/v1/units", headers=admin.headers)).json()
    ids = {u["id"] for u in units}
    assert job["unit"]["id"] in ids and idle["id"] not in ids
    assert all(u["crew_phones"] == [] for u in units)
    assert (await http.get(f"/api/v1/units/{idle['id']}", headers=admin.headers)).status_code == 404
    full = (await http.get("/api/v1/units", headers=operator.headers)).json()
    assert any(u["crew_phones"] for u in full) and idle["id"] in {u["id"] for u in full}


# --------------------------------------------------------------------------- item 8


async def test_a_treatment_relationship_needs_consent_verification_and_a_recent_encounter(
    env, http
):
    hospitals = (await http.get("/api/v1/hospitals")).json()
    hospital = hospitals[0]["id"]
    admin = await account(env, http, "hospital_admin", hospital_id=hospital)
    doctor = await account(env, http, "doctor")
    patient = await account(env, http, "patient")
    r = await http.put("/api/v1/patients/me/profile", headers=patient.headers,
                       json={"full_name": "Aino Outsider", "dob": "1980-05-17"})
    assert r.status_code == 200, r.text
    patient_id = r.json()["id"]
    department = (await http.post(f"/api/v1/hospitals/{hospital}/departments",
                                  json={"name": "Cardiology"}, headers=admin.headers)).json()
    r = await http.post("/api/v1/doctors", headers=admin.headers, json={
        "full_name": "Dr. Outsider", "license_no": f"FI-{uuid.uuid4().hex[:10]}",
        "specialty": "Cardiology", "languages": ["fi"], "user_id": doctor.user_id})
    doctor_id = r.json()["id"]
    # The admin attaches the doctor (no consent) and books the patient with them.
    r = await http.post(f"/api/v1/hospitals/{hospital}/doctors", headers=admin.headers,
                        json={"doctor_id": doctor_id, "department_id": department["id"]})
    assert r.status_code == 201 and r.json()["accepted"] is False
    for d in range(7):
        await http.post(f"/api/v1/hospitals/{hospital}/doctors/{doctor_id}/schedules",
                        headers=admin.headers, json={"weekday": d, "start_time": "00:00",
                                                     "end_time": "23:45", "slot_minutes": 15})
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2 * 86400))
    slots = (await http.get(f"/api/v1/doctors/{doctor_id}/slots",
                            params={"from": start, "to": end})).json()
    r = await http.post("/api/v1/appointments", headers=admin.headers, json={
        "doctor_id": doctor_id, "hospital_id": hospital, "start": slots[0]["start"],
        "patient_id": patient_id})
    assert r.status_code == 201, r.text
    chart = f"/api/v1/patients/{patient_id}/records"
    r = await http.get(chart, headers=doctor.headers)
    assert r.status_code == 403 and r.json()["code"] == "no_treatment_relationship"
    # Consent alone is not enough: the doctor must be verified too.
    r = await http.post(f"/api/v1/doctors/me/affiliations/{hospital}/accept",
                        headers=doctor.headers)
    assert r.status_code == 200, r.text
    assert (await http.get(chart, headers=doctor.headers)).status_code == 403
    root = await account(env, http, "super_admin")
    assert (await http.post(f"/api/v1/doctors/{doctor_id}/verify",
                            headers=root.headers)).status_code == 200
    r = await http.get(chart, headers=doctor.headers)
    assert r.status_code == 200 and r.json()["access"]["basis"] == "treatment"


async def test_break_glass_needs_a_reason_in_words_and_is_alerted(env, server, http):
    doctor = await account(env, http, "doctor")
    sos = (await http.post(CASES, json=sos_body())).json()
    operator = await account(env, http, "emergency_operator")
    console = await open_console(server, operator.access)
    url = f"{CASES}/{sos['id']}"
    for junk in ("aaaaaaaaaaaaaaaa", "x x x x x x x x x x", "1234567890 12345"):
        r = await http.get(url, headers={**doctor.headers, "X-Break-Glass-Reason": junk})
        assert r.status_code == 404, (junk, r.text)
    r = await http.get(url, headers={**doctor.headers, "X-Break-Glass-Reason": REASON})
    assert r.status_code == 200
    alert = await console.wait_for(
        lambda m: m.get("type") == "event"
        and m["data"].get("alert", {}).get("kind") == "break_glass"
    )
    assert alert["data"]["case_id"] == sos["id"]


# --------------------------------------------------------------------------- item 12


async def test_one_case_token_cannot_hold_thousands_of_sockets(server, http):
    sos = (await http.post(CASES, json=sos_body())).json()
    first = {"type": "auth", "case_id": sos["id"], "case_token": sos["case_token"]}
    held = []
    for _ in range(20):  # LIFELINE_REALTIME_WS_PER_PRINCIPAL, default 20 per worker
        sock = await Socket.open(server.ws, first)
        assert (await sock.next())["type"] == "welcome"
        held.append(sock)
    extra = await Socket.open(server.ws, first)
    assert (await extra.next())["code"] == "too_many_sockets"
    assert await extra.closed_with() == 4029
    await held.pop().close()
    await asyncio.sleep(0.3)
    again = await Socket.open(server.ws, first)
    assert (await again.next())["type"] == "welcome"
    for sock in [*held, again]:
        await sock.close()


@pytest.fixture(scope="module")
def tight_server(env: dict[str, str]) -> Iterator[Server]:
    """A server with small limits: the tests below are about these two settings."""
    server = serve({**env, "LIFELINE_WEB_REQUEST_TIMEOUT_SECONDS": "2",
                    "LIFELINE_REALTIME_WS_PER_ADDRESS": "3"})
    yield server
    server.stop()


def test_a_slow_loris_request_is_cut_off(tight_server):
    with socket.create_connection(("127.0.0.1", tight_server.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finishes its head
        started = time.monotonic()
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 5
    with socket.create_connection(("127.0.0.1", tight_server.port), timeout=10) as sock:
        # A connection that sends nothing at all is closed too.
        answer = sock.recv(100)
        assert answer == b"" or REQUEST_TIMEOUT.startswith(answer)
    # A whole request is answered as always, and a slow response (SSE) is not cut.
    assert httpx.get(tight_server.http + "/health", timeout=5).status_code == 200


async def test_one_client_address_cannot_hold_more_sockets_than_its_cap(tight_server):
    async with httpx.AsyncClient(base_url=tight_server.http) as http:
        held = []
        for _ in range(3):
            sos = (await http.post(CASES, json=sos_body())).json()
            sock = await Socket.open(f"{tight_server.ws}", {
                "type": "auth", "case_id": sos["id"], "case_token": sos["case_token"]})
            assert (await sock.next())["type"] == "welcome"
            held.append(sock)
        sos = (await http.post(CASES, json=sos_body())).json()
        extra = await Socket.open(f"{tight_server.ws}", {
            "type": "auth", "case_id": sos["id"], "case_token": sos["case_token"]})
        assert (await extra.next())["code"] == "too_many_sockets"
        for sock in held:
            await sock.close()


# --------------------------------------------------------------------------- item 14


def test_the_server_is_not_a_superuser_and_cannot_touch_the_audit_trail(server, database_url):
    admin_url = database_url.replace("+psycopg", "")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        roles = {row[0] for row in conn.execute(
            "SELECT usename FROM pg_stat_activity WHERE datname = current_database()")}
    assert "lifeline_app" in roles  # the running `lifeline serve` connects as the app role
    app_url = admin_url.replace("postgres@", "lifeline_app@", 1)
    attacks = [
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "UPDATE audit_log SET actor = 'nobody'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "SET session_replication_role = replica",
        "CREATE TABLE mine (id int)",
        "DROP TABLE emergency_cases",
    ]
    for statement in attacks:
        with psycopg.connect(app_url, autocommit=True) as conn, pytest.raises(
            psycopg.errors.InsufficientPrivilege
        ):
            conn.execute(statement)
    with psycopg.connect(app_url, autocommit=True) as conn:
        row = conn.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                           "WHERE rolname = current_user").fetchone()
        assert row == (False, False, False)
        granted = conn.execute(
            "SELECT has_table_privilege('audit_log', 'INSERT'), "
            "has_table_privilege('audit_log', 'SELECT')").fetchone()
        assert granted == (True, True)  # it appends and reads the chain, nothing more


@pytest.fixture
def private_database(env) -> Iterator[str]:
    """A database of this test's own: it tampers with the audit trail as a superuser would."""
    from tests.conftest import ADMIN_URL

    name = f"lifeline_anchor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://")
    cli({**env, "DATABASE_URL": url}, "db", "upgrade")
    yield url
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _recompute_from(conn, seq: int) -> None:
    """What a superuser does to hide a rewrite: recompute every later hash."""
    from identity.audit import GENESIS, chain_hash

    rows = conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
    names = [c.name for c in conn.execute("SELECT * FROM audit_log LIMIT 0").description]
    previous = GENESIS
    for values in rows:
        row = type("Row", (), dict(zip(names, values, strict=True)))
        if row.seq >= seq:
            digest = chain_hash(previous, row, row.at)
            conn.execute("UPDATE audit_log SET previous_hash = %s, record_hash = %s "
                         "WHERE seq = %s", (previous, digest, row.seq))
            previous = digest
        else:
            previous = row.record_hash


def test_audit_checkpoints_catch_truncation_and_rewrites_made_after_them(
    env, private_database, tmp_path
):
    # This test is about LIFELINE_IDENTITY_AUDIT_KEY and LIFELINE_DATA_DIR: where checkpoints go.
    anchored = {**env, "DATABASE_URL": private_database, "LIFELINE_DATA_DIR": str(tmp_path),
                "LIFELINE_IDENTITY_AUDIT_KEY": "k" * 40}
    served = serve(anchored)
    try:
        for _ in range(6):  # each denial is an audit row
            assert httpx.get(served.http + "/api/v1/users/me").status_code == 401
    finally:
        served.stop()  # the shutdown checkpoint
    files = list((tmp_path / "audit").glob("checkpoints-*.jsonl"))
    assert len(files) == 1 and files[0].read_text().count("\n") == 1
    done = cli(anchored, "audit", "checkpoint")
    assert "checkpoint" in done.stdout
    assert "intact" in cli(anchored, "audit", "verify").stdout

    admin_url = private_database.replace("+psycopg", "")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        newest = conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
        # A superuser rewrites a row and recomputes every later hash: the chain verifies...
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2")
        _recompute_from(conn, 2)
    verdict = cli(anchored, "audit", "verify", check=False)
    # ...but not against the checkpoint, which names the interval that was rewritten.
    assert verdict.returncode == 1, verdict.stdout
    assert "rewritten" in verdict.stdout and f"rows 1..{newest}" in verdict.stdout
    assert "chain broken" not in verdict.stdout  # the hash chain alone saw nothing
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # The newest rows deleted: truncation, with the rows that are missing.
        conn.execute("DELETE FROM audit_log WHERE seq > %s", (newest - 2,))
    verdict = cli(anchored, "audit", "verify", check=False)
    assert verdict.returncode == 1
    assert "truncated" in verdict.stdout and f"{newest - 1}..{newest}" in verdict.stdout, (
        verdict.stdout)
    # A checkpoint file edited to match is not signed by the key.
    lines = files[0].read_text().splitlines()
    forged = json.loads(lines[-1]) | {"seq": 1}
    files[0].write_text("\n".join([*lines, json.dumps(forged)]) + "\n")
    verdict = cli(anchored, "audit", "verify", check=False)
    assert "forged_checkpoint" in verdict.stdout
