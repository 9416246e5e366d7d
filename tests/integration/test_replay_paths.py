"""Every path of the replay on a real Redis and PostgreSQL: paging past a page, a trimmed or
holed stream falling back to the outbox, and a lost Redis falling back to the outbox alone.

A scratch database holding only the outbox table, and the private Redis of the real-time tests
under a key prefix of this module, so the numbers here are nobody else's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import psycopg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from sqlalchemy import create_engine, insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from data.outbox import OutboxEvent
from realtime import streams
from realtime.authz import Principal
from realtime.hub import REPLAY_FAILED, Close, Hub
from realtime.settings import RealtimeSettings
from realtime.streams import REPLAY_PAGE, Event, encode_fields, stream_id, stream_key
from tests.conftest import ADMIN_URL

CASES = "emergency.case.updated"
POSITIONS = "unit.position.updated"
OPERATOR = Principal(roles=frozenset({"emergency_operator"}))
TOTAL = REPLAY_PAGE * 2 + 137  # more than two pages
AT = datetime(2026, 12, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def outbox_url() -> Iterator[str]:
    """A scratch database with the outbox table holding events 1..TOTAL of the case channel."""
    name = f"lifeline_replay_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    engine = create_engine(url)
    OutboxEvent.metadata.create_all(engine, tables=[OutboxEvent.__table__])
    with engine.begin() as conn:
        conn.execute(insert(OutboxEvent.__table__), [
            {"channel": CASES, "event_type": "case.raise", "aggregate_type": "emergency_case",
             "aggregate_id": f"c{seq % 3}", "payload": {"case_id": f"c{seq % 3}", "n": seq},
             "created_at": AT, "published_at": AT, "seq": seq}
            for seq in range(1, TOTAL + 1)
        ])
    engine.dispose()
    yield url
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(loop_scope="session")
async def engine(outbox_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(outbox_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def redis(rt_redis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(rt_redis.url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"replay-test:{uuid.uuid4().hex[:8]}:"


async def publish(redis: aioredis.Redis, prefix: str, seqs, channel: str = CASES) -> None:
    """What the relay writes: one entry per seq, the seq as the stream id."""
    pipe = redis.pipeline()
    for seq in seqs:
        fields = encode_fields(seq=seq, event_type="case.raise",
                               data={"case_id": f"c{seq % 3}", "n": seq}, at=AT.isoformat())
        pipe.xadd(stream_key(prefix, channel), fields,
                  id=stream_id(seq) if channel == CASES else "*")
    await pipe.execute()


async def replayed(redis, engine, prefix, *, after: int, channel: str = CASES, **kw) -> list:
    return [e async for e in streams.replay(redis=redis, engine=engine, prefix=prefix,
                                            channel=channel, after=after, **kw)]


def numbers(events: list[Event]) -> list[int]:
    return [e.seq for e in events]


async def test_a_replay_held_whole_by_redis_pages_through_it(redis, engine, prefix):
    await publish(redis, prefix, range(1, TOTAL + 1))
    events = await replayed(redis, engine, prefix, after=3)
    assert numbers(events) == list(range(4, TOTAL + 1))
    assert events[0].data == {"case_id": "c1", "n": 4} and events[0].event_type == "case.raise"


async def test_a_trimmed_stream_is_replayed_from_the_outbox_page_by_page(redis, engine, prefix):
    await publish(redis, prefix, range(TOTAL - 10, TOTAL + 1))  # Redis kept only the last 11
    events = await replayed(redis, engine, prefix, after=0)
    assert numbers(events) == list(range(1, TOTAL + 1))
    assert events[-1].at == AT.isoformat()


async def test_an_empty_stream_is_replayed_from_the_outbox(redis, engine, prefix):
    assert numbers(await replayed(redis, engine, prefix, after=TOTAL - 2)) == [
        TOTAL - 1, TOTAL
    ]


async def test_a_hole_in_the_stream_finishes_from_the_outbox_without_repeats(
    redis, engine, prefix
):
    # Entries 1..TOTAL except one past the first page: trimming raced with the read.
    hole = REPLAY_PAGE + 20
    await publish(redis, prefix, [s for s in range(1, TOTAL + 1) if s != hole])
    assert numbers(await replayed(redis, engine, prefix, after=0)) == list(range(1, TOTAL + 1))


async def test_a_case_token_replay_reads_only_its_case_from_the_outbox(redis, engine, prefix):
    events = await replayed(redis, engine, prefix, after=0, case_id="c2")
    assert numbers(events) == [s for s in range(1, TOTAL + 1) if s % 3 == 2]


async def test_ephemeral_channels_replay_only_from_redis(redis, engine, prefix):
    await publish(redis, prefix, range(1, TOTAL + 1), channel=POSITIONS)
    events = await replayed(redis, engine, prefix, after=TOTAL - 5, channel=POSITIONS)
    assert numbers(events) == list(range(TOTAL - 4, TOTAL + 1))
    assert numbers(await replayed(redis, engine, prefix, after=0, channel=POSITIONS)) == list(
        range(1, TOTAL + 1)
    )


def lost_redis() -> aioredis.Redis:
    """A real client of a Redis that is not there (nothing listens on the port)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return aioredis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)


async def hub_replay(redis, engine, channel: str, after: int, principal=OPERATOR):
    hub = Hub(redis=redis, engine=engine, settings=RealtimeSettings())
    sink = hub.open_sink()
    sub = hub.subscribe(sink, channel=channel, principal=principal, last_seq=after, ack=False)
    await sub.replay_task
    return sub, sink


async def test_with_redis_lost_a_subscriber_is_replayed_from_the_outbox(engine):
    redis = lost_redis()
    try:
        sub, sink = await hub_replay(redis, engine, CASES, TOTAL - REPLAY_PAGE - 3)
        got = []
        while len(sink):
            got += [item for item in await sink.take() if isinstance(item, Event)]
        assert numbers(got) == list(range(TOTAL - REPLAY_PAGE - 2, TOTAL + 1))
        assert sink.closed is None and not sub.replaying and sub.position == TOTAL
        # A case-token subscriber is replayed only its own case, from the outbox as well.
        _, own = await hub_replay(redis, engine, CASES, TOTAL - 9, Principal.for_case("c1"))
        mine = [i for i in await own.take() if isinstance(i, Event)]
        assert numbers(mine) == [s for s in range(TOTAL - 8, TOTAL + 1) if s % 3 == 1]
    finally:
        await redis.aclose()


async def test_with_redis_lost_an_ephemeral_replay_closes_the_socket_to_reconnect(engine):
    redis = lost_redis()
    try:
        sub, sink = await hub_replay(redis, engine, POSITIONS, 0)
        assert sink.closed == Close(REPLAY_FAILED, "replay failed; reconnect with last_seq")
    finally:
        await redis.aclose()
