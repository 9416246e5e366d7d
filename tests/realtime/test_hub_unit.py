"""Hub fan-out without Redis: slow consumers are dropped, others keep receiving."""

from __future__ import annotations

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
