"""The hub's less travelled paths, each driven for real: batches to a socket that is behind,
a connection opened during an outage, a malformed stream entry, outbox heads it cannot read.

Real Redis (the real-time tests' private server) and real PostgreSQL where the hub needs them.
"""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import create_async_engine

from realtime import streams
from realtime.authz import Principal
from realtime.hub import SLOW_CONSUMER, Close, Hub, stop_task
from realtime.settings import RealtimeSettings
from realtime.streams import Event, EventBatch, encode_fields, stream_key

POSITIONS = "unit.position.updated"
CASES = "emergency.case.updated"
OPERATOR = Principal(roles=frozenset({"emergency_operator"}))
AT = "2026-12-05T00:00:00+00:00"


def position(seq: int, unit: str = "u1") -> Event:
    return Event(POSITIONS, seq, "unit.position", {"unit_id": unit, "n": seq}, AT)


def offline_hub(**settings) -> Hub:
    return Hub(redis=None, engine=None, settings=RealtimeSettings(**settings))  # type: ignore[arg-type]


async def drain(sink) -> list:
    return await sink.take() if len(sink) else []


async def test_a_batch_socket_gets_only_what_it_has_not_seen():
    hub = offline_hub()
    sink = hub.open_sink(accepts_batches=True)
    sub = hub.subscribe(sink, channel=POSITIONS, principal=OPERATOR, last_seq=None, ack=False)
    sub.gate.position = 5
    events = [position(4), position(6), position(7)]
    sub.deliver_batch(events, EventBatch(tuple(events)))
    [batch] = await drain(sink)
    assert [e.seq for e in batch.events] == [6, 7] and batch.seq == 7 and sub.position == 7
    sub.deliver_batch([position(3), position(7)], EventBatch((position(7),)))  # all seen
    assert await drain(sink) == []
    sub.deliver_batch([position(8)], None)  # nothing of it visible: the position still moves
    assert await drain(sink) == [] and sub.position == 8
    sub.deliver_batch([position(8), position(9)], EventBatch((position(8),)))  # only seen ones
    assert await drain(sink) == [] and sub.position == 9


async def test_a_socket_without_batches_gets_the_visible_events_one_by_one():
    hub = offline_hub()
    sink = hub.open_sink(accepts_batches=False)
    sub = hub.subscribe(sink, channel=POSITIONS, principal=OPERATOR, ack=False)
    sub.deliver_batch([position(1), position(2)], EventBatch((position(2),)))
    assert [e.seq for e in await drain(sink)] == [2]
    sub.deliver_batch([position(3)], None)
    assert await drain(sink) == [] and sub.position == 3


async def test_a_replaying_subscriber_that_falls_too_far_behind_is_dropped():
    hub = offline_hub(queue_size=10)
    sink = hub.open_sink()
    sub = hub.subscribe(sink, channel=CASES, principal=OPERATOR, ack=False)
    sub.gate.replaying = True  # live events are held while a replay runs
    for seq in range(1, 13):
        sub.deliver_live(Event(CASES, seq, "case.raise", {"case_id": "c"}, AT), True)
    assert sink.closed == Close(SLOW_CONSUMER, "slow consumer")


async def test_a_connection_opened_during_an_outage_is_told_at_once():
    hub = offline_hub()
    hub.stale = True
    sink = hub.open_sink()
    assert await drain(sink) == [{"type": "stale"}]


async def test_shutdown_closes_every_connection_and_stops_tasks():
    hub = offline_hub()
    sinks = [hub.open_sink(), hub.open_sink()]
    hub.close_all(1001, "server shutting down")
    assert all(s.closed == Close(1001, "server shutting down") for s in sinks)
    await stop_task(None)
    never = asyncio.create_task(asyncio.Event().wait())
    await stop_task(never)
    assert never.cancelled()


async def test_without_coalescing_the_coalescer_does_not_run():
    hub = offline_hub(position_coalesce_ms=0)
    await asyncio.wait_for(hub.run_coalescer(), 1)  # returns at once


async def test_the_reader_skips_malformed_entries_and_unreadable_heads(rt_redis):
    """A hub on the private Redis, whose database cannot be reached: it still serves."""
    redis = aioredis.from_url(rt_redis.url)
    prefix = f"hub-test:{uuid.uuid4().hex[:8]}:"
    engine = create_async_engine("postgresql+psycopg://postgres@127.0.0.1:5432/no_such_db_here")
    # Keys of its own on the shared private Redis; a short XREAD block so the reader loop turns
    # quickly (the test is about what the loop does with each entry, not about the blocking).
    hub = Hub(redis=redis, engine=engine,
              settings=RealtimeSettings(stream_prefix=prefix, hub_block_ms=50))
    sink = hub.open_sink()
    hub.subscribe(sink, channel=CASES, principal=OPERATOR, ack=False)
    key = stream_key(prefix, CASES)
    reader = asyncio.create_task(hub.run())
    try:
        await asyncio.wait_for(hub.ready.wait(), 10)  # started although the heads were unreadable
        await redis.xadd(key, {"seq": "1", "type": "case.raise", "data": "{not json", "at": AT},
                         id="1-0")
        await redis.xadd(stream_key(prefix, POSITIONS), {"seq": "x"})  # nobody listens; bad seq
        await redis.xadd(key, encode_fields(seq=2, event_type="case.raise",
                                            data={"case_id": "c2"}, at=AT), id="2-0")
        got = await asyncio.wait_for(sink.take(), 10)
        assert [e.seq for e in got] == [2]  # the malformed entry was skipped, not fatal
        assert hub.heads[POSITIONS] == 0
    finally:
        await stop_task(reader)
        await redis.aclose()
        await engine.dispose()


def test_an_event_batch_stands_where_its_last_event_does():
    batch = EventBatch((position(3), position(9)))
    assert batch.seq == 9
    assert batch.text == position(3).text + "," + position(9).text
    assert streams.decode_entry(POSITIONS, {b"seq": b"4", b"type": b"t", b"data": b"{}",
                                            b"at": AT.encode()}).seq == 4
