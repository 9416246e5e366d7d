"""A real uvicorn server with the demo region and a headless Debian Chromium, for the page tests.

The server has its own database (with the Helsinki demo region) and its own Redis stream prefix,
so the in-process apps of other tests never take its events. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pyotp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import PASSWORD, REDIS_URL
from tests.support.scratch import scratch_database
from tests.support.servers import Server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
    "--disable-component-update", "--disable-sync",
]
HELSINKI = {"latitude": 60.1699, "longitude": 24.9384, "accuracy": 25}
PHONE = {"width": 360, "height": 740}


@dataclass(frozen=True)
class Account:
    """A user of the test server."""

    email: str
    user_id: uuid.UUID
    hospital_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    password: str = PASSWORD
    totp_secret: str | None = None
    #: Staff: one-time recovery codes, spent one per browser sign-in (a TOTP code is accepted
    #: once per 30-s step, and several pages sign the same account in within seconds).
    recovery_codes: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def web_database_url() -> Iterator[str]:
    """A database of our own, migrated, with the Helsinki demo region and its facilities."""
    with scratch_database("lifeline_web", demo_region=True) as url:
        yield url


@pytest.fixture(scope="session")
def web_server(web_database_url: str) -> Iterator[Server]:
    """One uvicorn worker of the whole app (pages, API, WebSocket) on a spare loopback port."""
    # What `make run` gives the server (its database and Redis), and a Redis key prefix of its
    # own so the in-process apps of other tests, on the same Redis, never take its events.
    # Timings, origins and limits are the defaults users get.
    env = dict(os.environ)
    env.update(
        DATABASE_URL=web_database_url,
        REDIS_URL=REDIS_URL,
        LIFELINE_REALTIME_STREAM_PREFIX=f"lifeline:web:{os.getpid()}:{uuid.uuid4().hex[:6]}:",
    )
    server = Server(env=env)
    assert (ROOT / "node_modules" / "leaflet" / "dist" / "leaflet.js").exists(), "run `make web`"
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


async def _create_accounts(url: str) -> dict[str, Account]:
    from sqlalchemy import select

    from data.db import async_session_factory, make_async_engine
    from data.models import import_all_models
    from data.settings import DataSettings
    from facilities.models import Hospital
    from identity import mfa
    from identity import service as identity_service
    from identity.models import Patient, User
    from identity.roles import is_staff

    import_all_models()
    engine = make_async_engine(DataSettings(DATABASE_URL=url))
    accounts: dict[str, Account] = {}
    try:
        async with async_session_factory(engine)() as session:
            hospitals = (await session.execute(select(Hospital.id))).scalars().all()
        for role in ("emergency_operator", "hospital_admin", "patient"):
            email = f"{role}-{uuid.uuid4().hex[:6]}@lifeline.test"
            # The admin's hospital is rebound to the case's destination once it is known.
            hospital_id = hospitals[0] if role == "hospital_admin" else None
            secret = pyotp.random_base32(length=32) if is_staff({role}) else None
            codes: list[str] = []
            async with async_session_factory(engine)() as session:
                user = await identity_service.create_user(
                    db_session=session, email=email, password=PASSWORD, roles=[role],
                    hospital_id=hospital_id,
                )
            if secret:
                async with async_session_factory(engine)() as session:
                    _, codes = await mfa.start_enrolment(
                        db_session=session, user=await session.get(User, user.id),
                        secret=secret, activate=True,
                    )
                    await session.commit()
            patient_id = None
            if role == "patient":
                async with async_session_factory(engine)() as session:
                    patient = Patient(user_id=user.id, full_name="Aino Virtanen", blood_group="A+")
                    session.add(patient)
                    await session.commit()
                    patient_id = patient.id
            accounts[role] = Account(
                email, user.id, patient_id=patient_id, totp_secret=secret, recovery_codes=codes
            )
        assert hospitals
    finally:
        await engine.dispose()
    return accounts


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def accounts(web_server: Server, web_database_url: str) -> dict[str, Account]:
    """An operator, a hospital admin (hospital bound later) and a patient with a profile."""
    return await _create_accounts(web_database_url)


def bind_admin(url: str, account: Account, hospital_id: str) -> None:
    """Make ``account`` the admin of ``hospital_id`` (the case's destination)."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        conn.execute(
            "UPDATE users SET hospital_id = %s WHERE id = %s", (hospital_id, str(account.user_id))
        )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api(web_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the test server (setup and checks the pages do not show)."""
    async with httpx.AsyncClient(base_url=web_server.http, timeout=30) as client:
        yield client


_bearers: dict[str, tuple[float, dict[str, str]]] = {}
#: Access tokens last 15 minutes; in random order a session's page tests spread over the whole
#: run, so a header older than this is replaced by a fresh sign-in.
_BEARER_REUSE_S = 600.0


async def bearer(api: httpx.AsyncClient, account: Account) -> dict[str, str]:
    """Authorization header of ``account`` (one API sign-in per account per 10 minutes)."""
    issued, headers = _bearers.get(account.email, (0.0, {}))
    if time.monotonic() - issued > _BEARER_REUSE_S:
        body = {"email": account.email, "password": account.password}
        if account.totp_secret:
            body["totp"] = pyotp.TOTP(account.totp_secret).now()
        response = await api.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, response.text
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        _bearers[account.email] = (time.monotonic(), headers)
    return headers


async def sign_in_page(page: Page, account: Account) -> None:
    """Fill a page's sign-in form (staff: with a recovery code as the second factor)."""
    await page.get_by_label("Email").fill(account.email)
    await page.get_by_label("Password").fill(account.password)
    if account.totp_secret:
        await page.get_by_label("Authentication code").fill(account.recovery_codes.pop())
    await page.get_by_role("button", name="Sign in").click()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Headless Debian Chromium (never a downloaded browser)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def new_context(browser: Browser, web_server: Server):
    """Factory of browser contexts on the test server; all closed after the test."""
    opened: list[BrowserContext] = []

    async def make(**kwargs) -> BrowserContext:
        kwargs.setdefault("base_url", web_server.http)
        context = await browser.new_context(**kwargs)
        context.set_default_timeout(10_000)
        # A page's own errors explain a failed wait better than the timeout does.
        context.on("weberror", lambda e: print(f"page error: {e.error}"))
        context.on(
            "console",
            lambda m: (
                print(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
            ),
        )
        opened.append(context)
        return context

    yield make
    for context in opened:
        await context.close()


async def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def crew_link(api: httpx.AsyncClient, headers: dict[str, str], case_id: str) -> str:
    """The /crew/{token} path from the SMS in the local outbox."""
    messages = (
        await api.get("/api/v1/sms/outbox", params={"case_id": case_id}, headers=headers)
    ).json()
    for message in messages:
        found = re.search(r"/crew/([A-Za-z0-9._~-]+)", message["body"])
        if found:
            return f"/crew/{found.group(1)}"
    raise AssertionError(f"no crew link in {messages}")


async def add_unit(api: httpx.AsyncClient, headers: dict[str, str], **overrides) -> dict:
    """An ALS ambulance stationed near the demo region's centre."""
    body = {
        "call_sign": f"HKI-{uuid.uuid4().hex[:4]}", "type": "ALS",
        "station_lat": 60.1690, "station_lng": 24.9400, "crew_phones": ["+358401112233"],
    }
    body.update(overrides)
    response = await api.post("/api/v1/units", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()
