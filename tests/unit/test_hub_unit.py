"""Hub fan-out without Redis: slow consumers are dropped, others keep receiving."""

from __future__ import annotations

import asyncio

from realtime.authz import Principal
from realtime.hub import SLOW_CONSUMER, Close, Hub
from realtime.settings import RealtimeSettings
from realtime.streams import Event

CASES = "emergency.case.updated"
OPERATOR = Principal(roles=frozenset({"emergency_operator"}))


def event(seq: int) -> Event:
    return Event(CASES, seq, "case.raise", {"case_id": str(seq)}, "2026-11-23T00:00:00+00:00")


async def test_a_full_queue_closes_that_subscriber_with_4008_only() -> None:
    hub = Hub(redis=None, engine=None, settings=RealtimeSettings(queue_size=10))  # type: ignore[arg-type]
    slow, fast = hub.open_sink(), hub.open_sink()
    hub.subscribe(slow, channel=CASES, principal=OPERATOR, ack=False)
    hub.subscribe(fast, channel=CASES, principal=OPERATOR, ack=False)
    for seq in range(1, 26):
        hub.fan_out(event(seq))
        for item in await fast.take():  # the fast one keeps reading
            assert isinstance(item, Event) and item.seq == seq
    assert slow.closed == Close(SLOW_CONSUMER, "slow consumer")
    assert len(slow) == 1 and isinstance(slow.items[0], Close)
    assert fast.closed is None


async def test_unauthorised_events_are_skipped_but_advance_the_position() -> None:
    hub = Hub(redis=None, engine=None, settings=RealtimeSettings())  # type: ignore[arg-type]
    sink = hub.open_sink()
    reporter = Principal.for_case("7")
    sub = hub.subscribe(sink, channel=CASES, principal=reporter, ack=False)
    for seq in range(1, 11):
        hub.fan_out(event(seq))
    got = await sink.take()
    assert [e.seq for e in got] == [7]
    assert sub.position == 10


async def test_subscribers_who_may_see_the_same_share_one_audience() -> None:
    hub = Hub(redis=None, engine=None, settings=RealtimeSettings())  # type: ignore[arg-type]
    operators = [
        Principal(roles=frozenset({"emergency_operator"}), user_id=str(i)) for i in range(3)
    ]
    admins = [
        Principal(roles=frozenset({"hospital_admin"}), user_id=str(i), hospital_id=h)
        for i, h in enumerate(["h1", "h2"])
    ]
    subs = [
        hub.subscribe(hub.open_sink(), channel=CASES, principal=p, ack=False) for p in operators
    ]
    for admin in admins:
        hub.subscribe(hub.open_sink(), channel=CASES, principal=admin, ack=False)
    hub.subscribe(
        hub.open_sink(), channel=CASES, principal=operators[0], filters={"region": "x"}, ack=False
    )
    assert len(hub.audiences[CASES]) == 4  # operators, h1, h2, operators of region x
    payload = {"case_id": "c", "destination_hospital_id": "h1"}
    hub.fan_out(Event(CASES, 1, "case.dispatch", payload, "2026-11-23T00:00:00+00:00"))
    audiences = hub.audiences[CASES].values()
    received = {id(s.sink): len(s.sink) for a in audiences for s in a.subscriptions}
    assert sorted(received.values()) == [0, 0, 1, 1, 1, 1]  # h2 and region x see nothing
    for sub in subs:
        hub.close_sink(sub.sink)
    assert len(hub.audiences[CASES]) == 3


async def test_the_ticker_beats_with_the_position_and_drops_a_stalled_writer() -> None:
    # The test is about the ticker's heartbeats and stall timeout: short ones keep it quick.
    settings = RealtimeSettings(heartbeat_seconds=0.1, send_timeout_seconds=1.0)
    hub = Hub(redis=None, engine=None, settings=settings)  # type: ignore[arg-type]
    listener, stuck = hub.open_sink(heartbeats=True), hub.open_sink(heartbeats=True)
    hub.subscribe(listener, channel=CASES, principal=Principal.for_case("7"), ack=False)
    for seq in range(1, 4):
        hub.fan_out(event(seq))
    loop = asyncio.get_running_loop()
    stuck.sender = asyncio.create_task(asyncio.sleep(60))  # a write the client never drains
    stuck.busy_since = loop.time() - 2.0
    ticker = asyncio.create_task(hub.run_ticker())
    try:
        await asyncio.sleep(0.25)
    finally:
        ticker.cancel()
    beats = [item for item in listener.items if isinstance(item, dict)]
    assert beats and all(b == {"type": "heartbeat", "channel": CASES, "seq": 3} for b in beats)
    assert stuck.closed == Close(SLOW_CONSUMER, "slow consumer")
    await asyncio.sleep(0)
    assert stuck.sender.cancelled()


POSITIONS = "unit.position.updated"


def fix(seq: int, unit: str) -> Event:
    return Event(
        POSITIONS, seq, POSITIONS, {"unit_id": unit, "lat": seq}, "2026-11-25T00:00:00+00:00"
    )


async def test_positions_are_coalesced_to_the_newest_fix_per_unit() -> None:
    from realtime.streams import EventBatch

    hub = Hub(redis=None, engine=None, settings=RealtimeSettings(position_coalesce_ms=1000))  # type: ignore[arg-type]
    socket, sse = hub.open_sink(accepts_batches=True), hub.open_sink()
    on_socket = hub.subscribe(socket, channel=POSITIONS, principal=OPERATOR, ack=False)
    hub.subscribe(sse, channel=POSITIONS, principal=OPERATOR, ack=False)
    for seq, unit in enumerate(["a", "b", "a", "a", "c", "b"], start=1):
        hub.fan_out(fix(seq, unit))
    assert len(socket) == 0 and len(sse) == 0  # nothing until the tick
    hub.flush_coalesced()
    (batch,) = await socket.take()  # one item for the socket, whatever the number of units
    assert isinstance(batch, EventBatch)
    assert [(e.seq, e.data["unit_id"]) for e in batch.events] == [(4, "a"), (5, "c"), (6, "b")]
    assert batch.text.count('"type":"event"') == 3
    assert [e.seq for e in await sse.take()] == [4, 5, 6]  # SSE gets them one by one
    assert on_socket.position == 6
    hub.flush_coalesced()
    assert len(socket) == 0  # nothing moved since


async def test_without_coalescing_every_fix_is_shown_at_once() -> None:
    hub = Hub(redis=None, engine=None, settings=RealtimeSettings(position_coalesce_ms=0))  # type: ignore[arg-type]
    sink = hub.open_sink(accepts_batches=True)
    hub.subscribe(sink, channel=POSITIONS, principal=OPERATOR, ack=False)
    for seq in range(1, 4):
        hub.fan_out(fix(seq, "a"))
    assert [e.seq for e in await sink.take()] == [1, 2, 3]


async def test_positions_flow_again_when_redis_restarts_its_count() -> None:
    """Redis restarted without its data counts positions from 1 again: subscribers start over
    from there instead of dropping every fix until the new count passes the old one."""
    positions = "unit.position.updated"
    hub = Hub(redis=None, engine=None,  # type: ignore[arg-type]
              settings=RealtimeSettings(position_coalesce_ms=0))
    sink = hub.open_sink()
    sub = hub.subscribe(sink, channel=positions, principal=OPERATOR, ack=False)

    def fix(seq: int) -> Event:
        return Event(positions, seq, "unit.position", {"unit_id": "u1", "n": seq},
                     "2026-12-05T00:00:00+00:00")

    for seq in range(1, 11):
        hub.fan_out(fix(seq))
    assert [e.seq for e in await sink.take()] == list(range(1, 11))
    for seq in (1, 2, 3):  # the count started over
        hub.fan_out(fix(seq))
    assert [e.seq for e in await sink.take()] == [1, 2, 3]
    assert sub.position == 3 and hub.heads[positions] == 3
