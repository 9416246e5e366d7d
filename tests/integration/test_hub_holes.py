"""A hole in a stream (entries a Redis failover lost) is filled from the outbox, in order."""

from __future__ import annotations

import uuid

from sqlalchemy import insert

from data.base import utcnow
from data.db import make_async_engine
from data.events import Channel
from data.outbox import OutboxEvent
from data.settings import DataSettings
from realtime.hub import Hub
from realtime.settings import RealtimeSettings
from realtime.streams import Event


class RecordingHub(Hub):
    """The hub, noting the seqs it fans out."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shown: list[int] = []

    def fan_out(self, event: Event) -> None:
        self.shown.append(event.seq)
        super().fan_out(event)


def live(channel: str, seq: int) -> Event:
    return Event(channel, seq, "case.raise", {"case_id": str(seq)}, "2026-12-05T00:00:00+00:00")


async def test_the_seqs_a_stream_skipped_come_from_the_outbox_before_the_next_event(
    database_url,
):
    # A channel of its own: no relay numbers it and no other test reads it.
    channel = f"test.holes.{uuid.uuid4().hex[:8]}"
    engine = make_async_engine(DataSettings(DATABASE_URL=database_url))
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(OutboxEvent), [
                {"channel": channel, "event_type": "case.raise", "aggregate_type": "case",
                 "aggregate_id": str(seq), "payload": {"case_id": str(seq)}, "seq": seq,
                 "published_at": utcnow()} for seq in range(1, 8)
            ])
        hub = RecordingHub(redis=None, engine=engine, settings=RealtimeSettings())
        hub.heads[channel] = 2  # seen live: 1 and 2; the promoted replica lost 3, 4 and 5

        await hub._fill_gap(live(channel, 6))
        assert hub.shown == [3, 4, 5]
        assert hub.heads[channel] == 5
        hub.fan_out(live(channel, 6))

        await hub._fill_gap(live(channel, 7))  # no hole: nothing read, nothing shown twice
        assert hub.shown == [3, 4, 5, 6]
    finally:
        await engine.dispose()


async def test_positions_have_no_outbox_and_are_never_filled():
    hub = RecordingHub(redis=None, engine=None, settings=RealtimeSettings())
    hub.heads[Channel.UNIT_POSITION] = 2
    await hub._fill_gap(live(Channel.UNIT_POSITION, 9))  # would need the engine otherwise
    assert hub.shown == []
