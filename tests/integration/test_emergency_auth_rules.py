"""The rules behind issue 18's fixes, one by one: the password-check gate, the password policy,
whose X-Forwarded-For is believed, 500s with security headers, one purging worker."""

from __future__ import annotations

import asyncio
import threading
import uuid

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from starlette.requests import HTTPConnection

from console_api.client_address import ForwardedFor, is_local, resolve, trusted_networks
from console_api.hardening import SECURITY_HEADERS, SecurityHeaders
from console_api.problems import install_problem_handlers
from data import key_purge
from data.errors import InvalidInput, TooManyRequests
from identity import limits
from identity.password_policy import check_password
from identity.passwords import HashingGate, hash_password
from identity.settings import IdentitySettings

# --- 2. the gate in front of password checks ------------------------------------------------


async def test_the_gate_runs_checks_off_the_event_loop_and_refuses_the_excess():
    gate = HashingGate(running=1, waiting=2)
    stored = hash_password("violet tractor mends the quiet harbour")

    async def step() -> bool | str:
        try:
            with gate.slot():
                return await gate.verify(stored, "violet tractor mends the quiet harbour")
        except TooManyRequests as exc:
            assert exc.retry_after_s >= 1 and exc.code == "sign_in_busy"
            return "busy"

    first = asyncio.create_task(step())
    await asyncio.sleep(0)  # the step ran up to its check, which is not on this loop
    assert not first.done()
    outcomes = await asyncio.gather(first, *(step() for _ in range(5)))
    assert outcomes.count(True) == 3 and outcomes.count("busy") == 3
    assert all(t.ident != threading.get_ident() for t in gate._pool._threads)
    with gate.slot():  # the slots were all given back
        pass


# --- 3. per account and client address; a global ceiling --------------------------------------

def test_lockout_doubles_from_the_fifth_failure_to_an_hour():
    assert [limits.lockout_seconds(n) for n in range(1, 8)] == [0, 0, 0, 0, 30, 60, 120]
    assert limits.lockout_seconds(40) == limits.LOCKOUT_MAX_S == 3600


def test_the_global_per_account_ceiling_is_far_above_one_client_s_budget():
    settings = IdentitySettings()
    assert settings.login_per_account_global >= 10 * settings.login_per_account


# --- 11. passwords scored by zxcvbn and a breached-password list --------------------------------

@pytest.mark.parametrize("password", [
    "P@ssw0rd2024", "qwertyuiopas", "Password1234", "iloveyou2024!", "1qaz2wsx3edc",
    "letmein123456", "aaaaaaaaaaaaaaaa", "short-pass",
])
def test_guessable_passwords_are_refused(password):
    with pytest.raises(InvalidInput) as refused:
        check_password(password)
    assert refused.value.field == "password"


@pytest.mark.parametrize("password", [
    "violet tractor mends the quiet harbour", "correct-horse-battery-staple",
    "Umbrella7Kestrel!Quarry",
])
def test_strong_passwords_pass(password):
    check_password(password)


def test_the_email_counts_as_a_known_word():
    with pytest.raises(InvalidInput):
        check_password("annikavirtanen1987", user_inputs=["annika.virtanen1987@example.fi"])


# --- 13. X-Forwarded-For only from LIFELINE_IDENTITY_TRUSTED_PROXIES ------------------------------

def test_forwarding_headers_are_believed_only_from_listed_proxies():
    proxies = trusted_networks("10.0.0.5, 192.168.1.0/24")
    assert resolve("203.0.113.9", "198.51.100.1", proxies) == "203.0.113.9"  # not a proxy
    assert resolve("127.0.0.1", "198.51.100.1", trusted_networks("")) == "127.0.0.1"
    assert resolve("10.0.0.5", "198.51.100.1", proxies) == "198.51.100.1"
    # The first untrusted hop from the right: a client cannot prepend its own claims.
    assert resolve("10.0.0.5", "6.6.6.6, 198.51.100.1, 192.168.1.7", proxies) == "198.51.100.1"


async def _client_seen(peer: str, headers: dict[str, str], proxies: str) -> tuple[str, bool]:
    app = FastAPI()
    app.state.identity_settings = IdentitySettings(trusted_proxies=proxies)
    seen: dict[str, object] = {}

    @app.get("/who")
    async def who(request: HTTPConnection) -> dict:
        seen["client"] = request.client.host
        seen["local"] = is_local(request)
        return {}

    app.add_middleware(ForwardedFor)
    transport = httpx.ASGITransport(app=app, client=(peer, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/who", headers=headers)).status_code == 200
    return seen["client"], seen["local"]


async def test_metrics_locality_follows_the_same_rule():
    # A loopback client with a forged header: the header is ignored, and not "local" either
    # (an unlisted proxy on this host would make every outsider look local).
    assert await _client_seen("127.0.0.1", {"X-Forwarded-For": "1.2.3.4"}, "") == (
        "127.0.0.1", False)
    assert await _client_seen("127.0.0.1", {}, "") == ("127.0.0.1", True)
    # Through a listed proxy on this host, an outsider is not local; a local agent is.
    assert await _client_seen("127.0.0.1", {"X-Forwarded-For": "198.51.100.7"},
                              "127.0.0.1") == ("198.51.100.7", False)
    assert await _client_seen("127.0.0.1", {"X-Forwarded-For": "127.0.0.1"},
                              "127.0.0.1") == ("127.0.0.1", True)


# --- 10. every 500 carries the security headers --------------------------------------------------

async def test_an_unhandled_error_answers_500_with_the_security_headers():
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(SecurityHeaders)

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise TypeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        r = await http.get("/api/v1/boom")
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, name
    assert r.headers["cache-control"] == "no-store"


# --- 16. one worker purges expired idempotency keys ----------------------------------------------

async def test_exactly_one_of_several_workers_purges(database_url):
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    key = f"old-{uuid.uuid4().hex}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO idempotency_keys (scope, key, request_hash, resource_type, created_at,"
            " expires_at) VALUES ('phone:+358400000001', %s, 'x', 'emergency_case',"
            " now() - interval '25 hours', now() - interval '1 hour')", [key])
    # A lock id of this test's own: the servers of other tests purge under the real one.
    lock_key = key_purge.PURGE_LOCK_KEY + uuid.uuid4().int % 1_000_000
    workers = [asyncio.create_task(
        key_purge.purge_on_schedule(database_url, interval_s=60, lock_key=lock_key))
        for _ in range(3)]
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for _ in range(50):
                await asyncio.sleep(0.2)
                holders = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND objid = %s", [lock_key & 0xFFFFFFFF]).fetchone()[0]
                gone = conn.execute("SELECT count(*) FROM idempotency_keys WHERE key = %s",
                                    [key]).fetchone()[0] == 0
                if gone and holders:
                    break
            assert gone and holders == 1
            assert all(not w.done() for w in workers)  # the others stand by
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
