"""Real servers for the real-time tests: a private database, a private Redis, uvicorn workers.

The database and Redis are private so the in-process ``app`` of other tests (whose relay
would compete for the same outbox) cannot take events away from these servers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import httpx
import psycopg
import pytest
import pytest_asyncio

from identity.settings import IdentitySettings
from tests.conftest import ADMIN_URL, SignedIn, sign_in
from tests.support.servers import PrivateRedis

ROOT = Path(__file__).resolve().parents[2]
LIFELINE = str(Path(sys.executable).with_name("lifeline"))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer(PrivateRedis):
    """A throwaway redis-server without persistence, which tests may stop and start."""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@dataclass
class Server:
    """One worker of the API in its own process, started as the README says: ``lifeline serve``.

    Its JSON log lines go to a file (``log``), which a test may wait on; ``env`` is the
    environment ``make run`` gives it (the database and Redis to use) plus what a test adds.
    """

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> None:
        if self.log is None:
            handle, name = tempfile.mkstemp(prefix=f"lifeline-serve-{self.port}-", suffix=".log")
            os.close(handle)
            self.log = Path(name)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [LIFELINE, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )

    def log_text(self) -> str:
        """Everything the server has logged so far."""
        return self.log.read_text(errors="replace") if self.log else ""

    def wait_ready(self) -> None:
        # Generous: under coverage (which follows the server) on a busy machine, start-up
        # has taken over a minute; normally it is a few seconds.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise AssertionError("server died:\n" + self.log_text()[-4000:])
            try:
                if httpx.get(self.http + "/health", timeout=1).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # polling the health endpoint until the deadline
        raise TimeoutError("server did not start:\n" + self.log_text()[-4000:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.log is not None:
            self.log.unlink(missing_ok=True)
            self.log = None


@pytest.fixture(scope="session")
def rt_database_url() -> Iterator[str]:
    """A database of our own, migrated to head (no road network: cases are off-network)."""
    name = f"lifeline_rt_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    from data.migrate import upgrade

    upgrade(url)
    yield url
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def rt_redis() -> Iterator[RedisServer]:
    """Our own Redis: tests stop it to simulate an outage."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def server_env(rt_database_url: str, rt_redis: RedisServer) -> dict[str, str]:
    """Environment of every test server: what ``make run`` sets (the database and Redis to use).

    The rest is inherited from the test run: ``LIFELINE_STREAM_PREFIX`` (tests/conftest.py) keeps
    this run's Redis keys apart from other runs'. Nothing else: timings, limits and allowed
    origins are the defaults users get; a test that needs another value starts its own server.
    """
    env = dict(os.environ)
    env.update(DATABASE_URL=rt_database_url, REDIS_URL=rt_redis.url)
    return env


def server_secret() -> str:
    """The token-signing secret of a server started with ``server_env`` (the default one)."""
    return IdentitySettings().secret_key


@pytest.fixture(scope="session")
def servers(server_env) -> Iterator[tuple[Server, Server]]:
    """Workers A and B: separate processes sharing the database and Redis."""
    pair = (Server(dict(server_env)), Server(dict(server_env)))
    for server in pair:
        server.start()
    try:
        for server in pair:
            server.wait_ready()
        yield pair
    finally:
        for server in pair:
            server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def rt_app(rt_database_url: str) -> AsyncIterator[SimpleNamespace]:
    """Just enough of an app for ``sign_in`` and for writing rows directly."""
    from data.db import async_session_factory, make_async_engine
    from data.models import import_all_models
    from data.settings import DataSettings

    import_all_models()
    engine = make_async_engine(DataSettings(DATABASE_URL=rt_database_url))
    yield SimpleNamespace(
        state=SimpleNamespace(engine=engine, session_factory=async_session_factory(engine))
    )
    await engine.dispose()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def http_a(servers) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP client of worker A."""
    async with httpx.AsyncClient(base_url=servers[0].http, timeout=30) as client:
        yield client


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def rt_operator(rt_app, http_a) -> SignedIn:
    """An emergency operator of the private database."""
    return await sign_in(rt_app, http_a, "emergency_operator")


def token_of(user: SignedIn) -> str:
    """The bare access token."""
    return user.headers["Authorization"].removeprefix("Bearer ")


async def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> None:
    """Poll ``predicate`` until true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(interval)
