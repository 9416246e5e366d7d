"""Shared fixtures: a fresh PostGIS database per run, the real Redis, an app and signed-in users.

Services are never mocked and never skipped: if PostgreSQL or Redis is unreachable the run fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest
import pytest_asyncio
import redis

from data.settings import DataSettings
from identity.settings import IdentitySettings
from tests.support.scratch import ADMIN_URL, scratch_database

# Fixtures of one concern live in tests/support/ (tests are grouped by kind: unit, integration,
# api, e2e; a fixture is shared by every kind that needs it).
pytest_plugins = [
    "tests.support.care",
    "tests.support.fleet",
    "tests.support.hospitals",
    "tests.support.realtime",
    "tests.support.security",
    "tests.support.web",
]

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Every test database numbers its events from 1: give this run its own Redis stream keys so that
# concurrent runs (and a dev server) sharing one Redis never collide.
os.environ.setdefault(
    "LIFELINE_REALTIME_STREAM_PREFIX", f"lifeline:test:{os.getpid()}:{uuid.uuid4().hex[:6]}:"
)
# The abuse limits are left as `make run` has them. Each signed-in test user logs in from an
# address of their own (``sign_in``), as people do; tests that must send more than a real caller
# would from one address say so and use ``distinct_client``.
PASSWORD = "correct-horse-battery-staple"
#: Personal data the tests seed (phones, names): none of it may ever reach a log line.
SEEDED_PII: set[str] = set()


class _AllLogs(logging.Handler):
    """Keeps every log line of the run (message and traceback) for the personal-data check."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self.lines.append(text)


ALL_LOGS = _AllLogs()
logging.getLogger().addHandler(ALL_LOGS)
logging.getLogger("lifeline").setLevel(logging.DEBUG)


def pii_in_logs() -> list[str]:
    """Seeded personal data found in the log lines so far (phones also without their +)."""
    needles = SEEDED_PII | {p.lstrip("+") for p in SEEDED_PII if p.startswith("+")}
    return sorted({n for line in ALL_LOGS.lines for n in needles if n in line})


def _require_services() -> None:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.exit(f"PostgreSQL is required for the tests and is unreachable: {exc}", returncode=3)
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.exit(f"Redis is required for the tests and is unreachable: {exc}", returncode=3)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A brand-new database, migrated to head, dropped after the run."""
    _require_services()
    with scratch_database("lifeline_test", demo_region=True) as url:
        yield url


@asynccontextmanager
async def bounded(manager, *, timeout_s: float = 15.0):
    """Enter an async context manager; leave it within ``timeout_s`` so teardown never hangs."""
    value = await manager.__aenter__()
    try:
        yield value
    finally:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(manager.__aexit__(None, None, None), timeout_s)


def running(application):
    """The app with its lifespan running."""
    return bounded(application.router.lifespan_context(application))


def in_process_client(application):
    """An httpx client speaking to the app in-process."""
    transport = httpx.ASGITransport(app=application)
    return bounded(httpx.AsyncClient(transport=transport, base_url="http://lifeline.test"))


@pytest.fixture(scope="session")
def data_settings(database_url: str) -> DataSettings:
    """Settings pointing at the test database and the real Redis."""
    return DataSettings(DATABASE_URL=database_url, REDIS_URL=REDIS_URL)


@pytest.fixture(scope="session")
def identity_settings() -> IdentitySettings:
    """A test secret, distinct from the development default.

    Only the in-process apps use it (servers started by tests keep the default, as `make run`
    does): tokens a development server on this machine signed must not work against them.
    """
    return IdentitySettings(secret_key="test-secret-" + uuid.uuid4().hex)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app(data_settings: DataSettings, identity_settings: IdentitySettings):
    """The application with its lifespan running (engine, Redis, durability check)."""
    from console_api.app import create_app
    from messaging.settings import MessagingSettings

    # The fleet tests' app (wired to a Twilio stub) sends the SMS; this one must not steal them.
    application = create_app(
        data_settings=data_settings,
        identity_settings=identity_settings,
        messaging_settings=MessagingSettings(LIFELINE_SMS_SENDER=False),
    )
    async with running(application):
        yield application


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking to the app in-process."""
    async with in_process_client(app) as http:
        yield http


@dataclass(frozen=True)
class SignedIn:
    """A provisioned user and the headers that authenticate them."""

    user_id: uuid.UUID
    email: str
    login_headers: dict[str, str]
    refresh_token: str
    #: To keep a long-lived (session-scoped) principal signed in, as the console does by
    #: refreshing: its token is re-minted for the same sign-in once it is 10 minutes old, so
    #: whichever order the tests run in (and however slowly), it never meets an expired one.
    settings: IdentitySettings | None = None
    _fresh: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        """Authorization headers with a token at most ~10 minutes old."""
        current = self._fresh or self.login_headers
        if self.settings is None:
            return current
        import jwt

        from identity.tokens import ALGORITHM, issue_access_token

        token = current["Authorization"].removeprefix("Bearer ")
        try:  # expired or not: what matters is who it was minted for, and when
            claims = jwt.decode(
                token, self.settings.secret_key, algorithms=[ALGORITHM],
                audience=self.settings.token_audience, options={"verify_exp": False},
            )
        except jwt.PyJWTError:  # a token a test broke on purpose is kept as it is
            return current
        if time.time() - float(claims["iat"]) < 600:
            return current
        fresh = issue_access_token(
            user_id=uuid.UUID(claims["sub"]), roles=set(claims.get("roles") or ()),
            hospital_id=uuid.UUID(claims["hid"]) if claims.get("hid") else None,
            settings=self.settings, mfa="otp" in (claims.get("amr") or []),
            session_id=uuid.UUID(claims["sid"]) if claims.get("sid") else None,
        )
        self._fresh.clear()
        self._fresh.update({**current, "Authorization": f"Bearer {fresh}"})
        return self._fresh


_addresses = itertools.count(1)


def client_address() -> str:
    """A loopback address no other test client uses (all of 127.0.0.0/8 reaches this host)."""
    n = next(_addresses)
    return f"127.{100 + n // 64_516 % 100}.{n // 254 % 254 + 1}.{n % 254 + 1}"


def distinct_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client of the same app or server that connects from an address of its own.

    In-process: the ASGI scope's client address; a real server: the socket's source address.
    """
    address = client_address()
    transport = getattr(client, "_transport", None)
    if isinstance(transport, httpx.ASGITransport):
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=transport.app, client=(address, 4242)),
            base_url=client.base_url,
        )
    return httpx.AsyncClient(
        base_url=client.base_url, timeout=30,
        transport=httpx.AsyncHTTPTransport(local_address=address),
    )


async def sign_in(app, client: httpx.AsyncClient, *roles: str, hospital_id=None) -> SignedIn:
    """Create a user with ``roles`` and log them in through the API (staff with a TOTP code).

    Each user signs in from an address of their own, as real users do, so a suite that creates
    hundreds of users stays under the per-IP sign-in limit that ``make run`` has.
    """
    import pyotp

    from identity import service as identity_service
    from identity.roles import is_staff

    email = f"{'-'.join(roles)}-{uuid.uuid4().hex[:8]}@lifeline.test"
    secret = pyotp.random_base32(length=32) if is_staff(set(roles)) else None
    async with app.state.session_factory() as session:
        user = await identity_service.create_user(
            db_session=session,
            email=email,
            password=PASSWORD,
            roles=list(roles),
            hospital_id=hospital_id,
            totp_secret=secret,
        )
    body = {"email": email, "password": PASSWORD}
    if secret:
        body["totp"] = pyotp.TOTP(secret).now()
    async with distinct_client(client) as own:
        response = await own.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    tokens = response.json()
    return SignedIn(
        user_id=user.id,
        email=email,
        login_headers={"Authorization": f"Bearer {tokens['access_token']}"},
        refresh_token=tokens["refresh_token"],
        settings=getattr(app.state, "identity_settings", None),  # None: a stand-in app
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def operator(app, client) -> SignedIn:
    """An emergency operator."""
    return await sign_in(app, client, "emergency_operator")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def patient_user(app, client) -> SignedIn:
    """A patient (not staff)."""
    return await sign_in(app, client, "patient")


def random_phone() -> str:
    """A valid, unique-enough Finnish mobile number in E.164 (remembered as seeded PII)."""
    phone = f"+35840{uuid.uuid4().int % 10_000_000:07d}"
    SEEDED_PII.add(phone)
    return phone


def sos_body(**overrides) -> dict:
    """A valid SOS request inside the Helsinki demo region."""
    body = {
        "lat": 60.1699,
        "lng": 24.9384,
        "symptom_category": "chest_pain",
        "reporter_phone": random_phone(),
    }
    body.update(overrides)
    return body


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The random order's seed, even under -q (which hides pytest-randomly's header line)."""
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int) and config.pluginmanager.has_plugin("randomly"):
        terminalreporter.write_line(
            f"tests ran in random order, seed {seed}: replay with pytest --randomly-seed={seed}"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a failed test here: CI installs what it needs or fails loudly."""
    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        prefix = os.environ["LIFELINE_REALTIME_STREAM_PREFIX"]
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    leaked = pii_in_logs()
    if leaked and reporter:
        reporter.write_line(
            f"personal data reached the logs: {len(leaked)} seeded values", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0:
        reporter.write_line(f"{len(skipped)} test(s) skipped: skips count as failures", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


async def add_unit(
    client, headers, *, lat=60.1690, lng=24.9400, unit_type="ALS", phones=()
) -> dict:
    """Register an ambulance through the API (stationed in the demo region)."""
    body = {
        "call_sign": f"U-{uuid.uuid4().hex[:8]}",
        "type": unit_type,
        "station_lat": lat,
        "station_lng": lng,
        "crew_phones": list(phones),
    }
    response = await client.post("/api/v1/units", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Print a failure the moment it happens, so a later hang cannot hide it."""
    if report.failed:
        import sys

        sys.stderr.write(
            f"\n--- {report.nodeid} ({report.when}) failed ---\n{report.longreprtext}\n"
        )


#: A test still running after this long gets every asyncio task's stack printed (then
#: pytest-timeout, configured in pyproject.toml, fails it), so a hang names its culprit.
HANG_REPORT_S = 240.0
_session_loop: list[asyncio.AbstractEventLoop] = []


@pytest_asyncio.fixture(scope="session", loop_scope="session", autouse=True)
async def _remember_session_loop() -> AsyncIterator[None]:
    _session_loop.append(asyncio.get_running_loop())
    yield


def _print_tasks() -> None:
    import sys

    for task in asyncio.all_tasks():
        sys.stderr.write(f"\n--- task {task.get_name()} ---\n")
        task.print_stack(file=sys.stderr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Report the asyncio tasks of a test that looks hung."""
    import threading

    def report() -> None:
        import sys

        sys.stderr.write(f"\n=== {item.nodeid} still running after {HANG_REPORT_S:.0f} s ===\n")
        if _session_loop and not _session_loop[0].is_closed():
            _session_loop[0].call_soon_threadsafe(_print_tasks)

    timer = threading.Timer(HANG_REPORT_S, report)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
