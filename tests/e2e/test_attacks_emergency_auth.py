"""Issue 18, replayed as an outsider against ``lifeline serve`` over HTTP and WebSocket.

Each test is an attack (or a new user's mistake) that worked before: an SOS refused for a bad
token, sign-ins queued without bound, a lockout used as a weapon, login answers that tell a right
password, a 500 without security headers, FHIR data cacheable, weak passwords accepted, a forged
X-Forwarded-For believed, sockets and crew links tied to port 8000, idempotency keys kept forever.
The server runs as a user starts it (see :func:`tests.support.servers.shell_env`); accounts are
provisioned in the database, as ``lifeline users create`` does.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import jwt
import psycopg
import pyotp
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from data.base import utcnow
from identity import service as identity_service
from identity.settings import DEV_SECRET, IdentitySettings
from tests.conftest import PASSWORD, sos_body
from tests.support.servers import Server, from_address, shell_env

CASES = "/api/v1/emergency/cases"
LOGIN = "/api/v1/auth/login"
ENROL = "/api/v1/auth/mfa/enrol"
ACTIVATE = "/api/v1/auth/mfa/activate"
WRONG = "not-the-password-at-all-42"
EXPIRED_KEY = f"expired-{uuid.uuid4().hex}"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[Server]:
    """``lifeline serve --port N`` (never 8000), with an idempotency key that expired a day ago
    already in the database, as a long-running deployment would have."""
    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO idempotency_keys (scope, key, request_hash, resource_type, created_at,"
            " expires_at) VALUES ('phone:+358400000000', %s, 'x', 'emergency_case',"
            " now() - interval '48 hours', now() - interval '24 hours')",
            [EXPIRED_KEY],
        )
        # Other servers of this test run (the in-process app) share the database and one of
        # them leads the hourly purge. Their purge sessions end here, as when the leading worker
        # of a deployment goes away, so that the new server leads and purges at start-up.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'lifeline-key-purge'"
        )
    server = Server(shell_env(database_url)).start()
    try:
        server.wait_ready(90, require_ready=True)
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def outsider(served: Server):
    """An HTTP client from the default loopback address."""
    async with from_address("127.0.0.1", served.http) as http:
        yield http


async def provision(app, role: str, *, totp: bool = True, **kwargs: object) -> tuple[str, str]:
    """An account in the database (what ``lifeline users create`` does): (email, TOTP secret)."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@lifeline.test"
    secret = pyotp.random_base32(length=32) if totp else None
    async with app.state.session_factory() as session:
        await identity_service.create_user(
            db_session=session, email=email, password=PASSWORD, roles=[role], totp_secret=secret,
            **kwargs,
        )
    return email, secret or ""


def _dev_token(**claims: object) -> str:
    """A token signed with the key ``make run`` uses (the development key)."""
    settings = IdentitySettings(secret_key=DEV_SECRET)
    now = utcnow()
    body = {"sub": str(uuid.uuid4()), "roles": ["patient"], "hid": None, "iat": now, "nbf": now,
            "exp": now + timedelta(minutes=15), "iss": settings.token_issuer,
            "aud": settings.token_audience, "jti": uuid.uuid4().hex, "typ": "access",
            "amr": ["pwd"]}
    body.update(claims)
    return jwt.encode(body, DEV_SECRET, algorithm="HS256")


# --- 1. An SOS is never refused for its credentials -------------------------------------------

@pytest.mark.parametrize("bearer", [
    "garbage",
    "expired",
    "staff-without-mfa",
])
async def test_sos_with_a_bad_or_expired_bearer_is_accepted_and_flagged(outsider, bearer):
    token = {
        "garbage": "not.a.token",
        "expired": _dev_token(exp=utcnow() - timedelta(minutes=1),
                              iat=utcnow() - timedelta(minutes=16),
                              nbf=utcnow() - timedelta(minutes=16)),
        "staff-without-mfa": _dev_token(roles=["emergency_operator"]),
    }[bearer]
    r = await outsider.post(CASES, json=sos_body(), headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex,
    })
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["unverified_caller"] is True and case["patient_id"] is None
    # The reporter follows it with the case token, as any anonymous caller.
    read = await outsider.get(f"{CASES}/{case['id']}", headers={"X-Case-Token": case["case_token"]})
    assert read.status_code == 200 and read.json()["unverified_caller"] is True


async def test_sos_without_a_bearer_is_not_flagged(outsider):
    r = await outsider.post(CASES, json=sos_body(), headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201 and r.json()["unverified_caller"] is False


# --- 2. Password checks never queue without bound --------------------------------------------

async def test_excess_concurrent_sign_ins_get_429_with_retry_after(app, served):
    accounts = [await provision(app, "patient", totp=False) for _ in range(12)]

    async def attempt(i: int, email: str):
        async with from_address(f"127.0.0.{40 + i}", served.http) as http:
            return await http.post(LOGIN, json={"email": email, "password": PASSWORD})

    answers = await asyncio.gather(*(attempt(i, e) for i, (e, _) in enumerate(accounts)))
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {200, 429} and statuses[429] >= 1, statuses
    busy = [r for r in answers if r.status_code == 429]
    assert all(int(r.headers["Retry-After"]) >= 1 for r in busy)
    assert {r.json()["code"] for r in busy} == {"sign_in_busy"}
    # Meanwhile an SOS is answered as ever.
    async with from_address("127.0.0.39", served.http) as http:
        sos = await http.post(CASES, json=sos_body(), headers={"Idempotency-Key": uuid.uuid4().hex})
    assert sos.status_code == 201


# --- 3. Locking an account out is not a weapon ------------------------------------------------

async def test_failures_from_one_address_never_lock_the_account_on_another(app, served):
    email, secret = await provision(app, "emergency_operator")
    async with from_address("127.0.0.2", served.http) as attacker:
        answers = [
            (await attacker.post(LOGIN, json={"email": email, "password": WRONG})).status_code
            for _ in range(21)
        ]
        assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
        # Even the right password is refused to the attacker's address now.
        right = {"email": email, "password": PASSWORD, "totp": pyotp.TOTP(secret).now()}
        assert (await attacker.post(LOGIN, json=right)).status_code == 429
    async with from_address("127.0.0.3", served.http) as operator:
        r = await operator.post(LOGIN, json=right)
    assert r.status_code == 200, r.text


async def test_mfa_enrol_and_activate_obey_the_lockout(app, served):
    email, _ = await provision(app, "doctor", totp=False)
    async with from_address("127.0.0.4", served.http) as attacker:
        for _ in range(5):
            r = await attacker.post(ENROL, json={"email": email, "password": WRONG})
            assert r.status_code == 401
        locked = await attacker.post(ENROL, json={"email": email, "password": PASSWORD})
        assert locked.status_code == 429 and "secret" not in locked.text
        assert int(locked.headers["Retry-After"]) >= 1
        r = await attacker.post(ACTIVATE, json={"email": email, "password": PASSWORD,
                                                "totp": "123456"})
        assert r.status_code == 429
    async with from_address("127.0.0.5", served.http) as owner:
        enrol = await owner.post(ENROL, json={"email": email, "password": PASSWORD})
        assert enrol.status_code == 200
        totp = pyotp.TOTP(enrol.json()["secret"])
        for _ in range(5):  # wrong codes at activation count as failures too
            r = await owner.post(ACTIVATE, json={"email": email, "password": PASSWORD,
                                                 "totp": "000000"})
            assert r.status_code == 401
        r = await owner.post(ACTIVATE, json={"email": email, "password": PASSWORD,
                                             "totp": totp.now()})
        assert r.status_code == 429
    async with from_address("127.0.0.6", served.http) as elsewhere:
        r = await elsewhere.post(ACTIVATE, json={"email": email, "password": PASSWORD,
                                                 "totp": totp.now()})
        assert r.status_code == 204, r.text


# --- 10. One answer until every factor is right -----------------------------------------------

def _shape(r) -> tuple:
    body = r.json()
    return r.status_code, body["code"], body["detail"], r.headers.get("www-authenticate")


async def test_login_answers_do_not_tell_a_right_password(app, served):
    operator, _ = await provision(app, "emergency_operator")
    unenrolled, _ = await provision(app, "hospital_admin", totp=False,
                                    hospital_id=await _a_hospital(app))
    async with from_address("127.0.0.7", served.http) as http:
        wrong = await http.post(LOGIN, json={"email": operator, "password": WRONG})
        no_code = await http.post(LOGIN, json={"email": operator, "password": PASSWORD})
        bad_code = await http.post(LOGIN, json={"email": operator, "password": PASSWORD,
                                                "totp": "000000"})
        not_enrolled = await http.post(LOGIN, json={"email": unenrolled, "password": PASSWORD})
        nobody = await http.post(LOGIN, json={"email": f"x-{uuid.uuid4().hex}@x.test",
                                              "password": PASSWORD})
    shapes = {_shape(r) for r in (wrong, no_code, bad_code, not_enrolled, nobody)}
    assert len(shapes) == 1 and next(iter(shapes))[:2] == (401, "invalid_credentials"), shapes


async def test_a_real_account_is_not_told_by_its_429(app, served):
    real, _ = await provision(app, "patient", totp=False)
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@lifeline.test"
    seen = {}
    for n, email in enumerate((real, ghost)):
        async with from_address(f"127.0.0.{8 + n}", served.http) as http:
            seen[email] = [
                (await http.post(LOGIN, json={"email": email, "password": WRONG})).status_code
                for _ in range(7)
            ]
    assert seen[real] == seen[ghost] == [401] * 5 + [429] * 2


async def test_totp_in_non_ascii_digits_is_a_counted_401(app, served):
    email, _ = await provision(app, "emergency_operator")
    async with from_address("127.0.0.11", served.http) as http:
        answers = []
        for _ in range(6):
            r = await http.post(LOGIN, json={"email": email, "password": PASSWORD,
                                             "totp": "١٢٣٤٥٦"})
            answers.append(r.status_code)
            assert r.headers["x-content-type-options"] == "nosniff"
    assert answers == [401] * 5 + [429]


# --- 11. FHIR personal data is not cached; weak passwords are refused --------------------------

async def test_fhir_responses_with_personal_data_are_not_stored(app, served):
    email, _ = await provision(app, "patient", totp=False)
    async with from_address("127.0.0.12", served.http) as http:
        token = (await http.post(LOGIN, json={"email": email, "password": PASSWORD})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for path in ("/fhir/Patient", f"/fhir/Patient/{uuid.uuid4()}", "/fhir/Appointment"):
            r = await http.get(path, headers=headers)
            assert r.status_code < 500, r.text
            assert r.headers.get("cache-control") == "no-store", (path, r.headers)


@pytest.mark.parametrize("password", ["P@ssw0rd2024", "qwertyuiopas"])
def test_the_cli_refuses_guessable_passwords(served, password):
    done = served.cli("users", "create", "--email", f"weak-{uuid.uuid4().hex[:6]}@lifeline.test",
                      "--password", password, "--role", "patient")
    assert done.returncode == 2 and "password" in done.stdout, done.stdout + done.stderr


# --- 13. X-Forwarded-For is believed only from configured proxies ------------------------------

async def test_a_forged_forwarded_for_does_not_dodge_per_address_limits(outsider):
    flagged = []
    for i in range(25):  # the per-address SOS limit is 20 in 10 minutes
        r = await outsider.post(CASES, json=sos_body(), headers={
            "X-Forwarded-For": f"203.0.113.{i}", "Idempotency-Key": uuid.uuid4().hex,
        })
        assert r.status_code == 201
        flagged.append(r.json()["suspected_abuse"])
    assert flagged[-1] is True  # all from one address, whatever the header says


async def test_metrics_from_loopback_through_a_forwarding_header_are_refused(outsider):
    assert (await outsider.get("/metrics")).status_code == 200
    forwarded = await outsider.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
    assert forwarded.status_code == 403


# --- 15. Any port, any host ---------------------------------------------------------------------

async def test_same_origin_console_socket_and_crew_link_on_a_non_default_port(app, served):
    assert served.port != 8000
    email, secret = await provision(app, "emergency_operator")
    async with from_address("127.0.0.13", served.http) as http:
        r = await http.post(LOGIN, json={"email": email, "password": PASSWORD,
                                         "totp": pyotp.TOTP(secret).now()})
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        # The console page's socket: same origin as the page, on this port.
        async with connect(f"ws://127.0.0.1:{served.port}/ws?token={token}",
                           origin=served.http) as ws:
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert welcome["type"] == "welcome"
        with pytest.raises(InvalidStatus):  # a page elsewhere may not
            async with connect(f"ws://127.0.0.1:{served.port}/ws?token={token}",
                               origin="http://evil.example"):
                pass
        # A crew SMS link points at where the server runs.
        case = (await http.post(CASES, json=sos_body(),
                                headers={"Idempotency-Key": uuid.uuid4().hex})).json()
        url = f"{CASES}/{case['id']}"
        assert (await http.post(f"{url}/triage", json={"severity": "high"},
                                headers=headers)).status_code == 200
        unit = await http.post("/api/v1/units", headers=headers, json={
            "call_sign": f"PORT-{uuid.uuid4().hex[:5]}", "type": "ALS",
            "station_lat": 60.1699, "station_lng": 24.9384, "crew_phones": ["+358401112233"],
        })
        assert unit.status_code == 201, unit.text
        sent = await http.post(f"{url}/dispatch", json={"unit_id": unit.json()["id"]},
                               headers=headers)
        assert sent.status_code == 200, sent.text
        outbox = await http.get("/api/v1/sms/outbox", params={"case_id": case["id"]},
                                headers=headers)
        assert outbox.status_code == 200, outbox.text
    bodies = " ".join(m["body"] for m in outbox.json())
    assert f"http://127.0.0.1:{served.port}/crew/" in bodies, bodies
    assert ":8000/" not in bodies


# --- 16. Idempotency keys are purged after 24 hours ----------------------------------------------

async def test_expired_idempotency_keys_are_purged_by_the_server(served, database_url):
    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        for _ in range(50):
            if conn.execute("SELECT 1 FROM idempotency_keys WHERE key = %s",
                            [EXPIRED_KEY]).fetchone() is None:
                return
            await asyncio.sleep(0.2)
    pytest.fail("the expired idempotency key is still stored")


async def _a_hospital(app) -> uuid.UUID:
    from sqlalchemy import select

    from facilities.models import Hospital

    async with app.state.session_factory() as session:
        return await session.scalar(select(Hospital.id).order_by(Hospital.name).limit(1))


# --- 4. Contention is not an outage -------------------------------------------------------------

async def test_fifty_concurrent_bookings_of_one_slot_under_cpu_load(app, served):
    from tests.support.care import free_slots, make_clinic, make_patient

    async with from_address("127.0.0.14", served.http) as http:
        clinic = await make_clinic(app, http)
        patients = [await make_patient(app, http) for _ in range(10)]
        slot = (await free_slots(http, clinic))[0]
        body = {"doctor_id": clinic.doctor_id, "hospital_id": slot["hospital_id"],
                "start": slot["start"], "reason": "check-up"}
        # The machine is loaded, as when the deadlocks were seen: two busy loops beside us.
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                   for _ in range(2)]
        try:
            answers = await asyncio.gather(*(
                http.post("/api/v1/appointments", json=body, headers=p.headers)
                for p in patients for _ in range(5)
            ))
        finally:
            for burner in burners:
                burner.kill()
                burner.wait()
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: 1, 409: 49}, (statuses, {r.text for r in answers
                                                      if r.status_code not in (201, 409)})
    assert {r.json()["code"] for r in answers if r.status_code == 409} <= {
        "slot_taken", "write_conflict"}
