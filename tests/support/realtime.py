"""Real servers for the real-time tests: a private database, a private Redis, uvicorn workers.

The database and Redis are private so the in-process ``app`` of other tests (whose relay
would compete for the same outbox) cannot take events away from these servers.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import httpx
import pytest
import pytest_asyncio

from identity.settings import IdentitySettings
from tests.conftest import SignedIn, sign_in
from tests.support.scratch import scratch_database
from tests.support.servers import PrivateRedis, Server


@pytest.fixture(scope="session")
def rt_database_url() -> Iterator[str]:
    """A database of our own, migrated to head (no road network: cases are off-network)."""
    with scratch_database("lifeline_rt") as url:
        yield url


@pytest.fixture(scope="session")
def rt_redis() -> Iterator[PrivateRedis]:
    """Our own Redis: tests stop it to simulate an outage."""
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def server_env(rt_database_url: str, rt_redis: PrivateRedis) -> dict[str, str]:
    """Environment of every test server: what ``make run`` sets (the database and Redis to use).

    The rest is inherited from the test run: ``LIFELINE_REALTIME_STREAM_PREFIX`` (tests/conftest.py)
    keeps this run's Redis keys apart from other runs'. Nothing else: timings, limits and allowed
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
        state=SimpleNamespace(
            engine=engine, session_factory=async_session_factory(engine),
            identity_settings=IdentitySettings(),  # the servers' own (server_secret)
        )
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
