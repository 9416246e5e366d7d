"""Channels, their Redis streams and the one event shape every transport sends.

Outbox channels are written only by the relay, with the explicit stream id ``{seq}-0``, so the
stream id *is* the sequence number and a re-publish after a crash is refused by Redis.
Ephemeral channels (unit positions: high rate, not state changes) bypass the outbox: they get an
auto id and a ``seq`` from a Redis counter, and resume only from what the stream still retains.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import orjson
import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from data.events import EPHEMERAL_CHANNELS, SUBSCRIBABLE
from data.outbox import OutboxEvent

CHANNELS: tuple[str, ...] = SUBSCRIBABLE

REPLAY_PAGE = 500
#: Entries of a stream read (XRANGE), as redis-py returns them (its stubs say "or None").
Entries = list[tuple[Any, dict[Any, Any]]]


@dataclass(frozen=True)
class Event:
    """One sequenced event of a channel."""

    channel: str
    seq: int
    event_type: str
    data: dict[str, Any]
    at: str

    def message(self) -> dict[str, Any]:
        """The client-facing message (identical on WebSocket, SSE and long-poll)."""
        return {
            "type": "event",
            "channel": self.channel,
            "seq": self.seq,
            "event_type": self.event_type,
            "data": self.data,
            "at": self.at,
        }

    @cached_property
    def text(self) -> str:
        """The message as JSON, encoded once however many subscribers receive it."""
        return json.dumps(self.message(), separators=(",", ":"))


@dataclass(frozen=True)
class EventBatch:
    """Several events of one channel shown to one audience together (coalesced positions).

    One item per subscriber instead of one per event: the audience's messages are joined once
    and every batch-capable socket of the audience writes the same text.
    """

    events: tuple[Event, ...]

    @property
    def seq(self) -> int:
        """The last event's seq: where a subscriber stands once the batch is shown."""
        return self.events[-1].seq

    @cached_property
    def text(self) -> str:
        """The messages joined by commas: a slice of a JSON array frame."""
        return ",".join(event.text for event in self.events)


def stream_key(prefix: str, channel: str) -> str:
    """The Redis stream holding ``channel``."""
    return f"{prefix}{channel}"


def counter_key(prefix: str, channel: str) -> str:
    """The Redis counter numbering an ephemeral channel."""
    return f"{prefix}{channel}:seq"


def stream_id(seq: int) -> str:
    """Outbox channels use the sequence number as the stream id."""
    return f"{seq}-0"


def encode_fields(
    *, seq: int, event_type: str, data: dict[str, Any] | str, at: str
) -> dict[FieldT, EncodableT]:
    """Stream entry fields; ``data`` may already be JSON text (the relay reads it as text)."""
    return {
        "seq": str(seq), "type": event_type,
        "data": data if isinstance(data, str) else json.dumps(data), "at": at,
    }


def decode_entry(channel: str, fields: dict[Any, Any]) -> Event:
    """A stream entry back into an :class:`Event` (keys and values may be bytes)."""

    def get(name: str) -> str:
        value = fields.get(name.encode(), fields.get(name))
        return value.decode() if isinstance(value, bytes) else str(value)

    return Event(
        channel=channel,
        seq=int(get("seq")),
        event_type=get("type"),
        data=orjson.loads(get("data")),
        at=get("at"),
    )


async def first_retained_seq(redis: aioredis.Redis, key: str, channel: str) -> int | None:
    """The seq of the oldest entry still in the stream, or None when it is empty."""
    entries = cast(Entries, await redis.xrange(key, "-", "+", count=1))
    if not entries:
        return None
    return decode_entry(channel, entries[0][1]).seq


async def replay_from_redis(
    redis: aioredis.Redis, key: str, channel: str, *, after: int
) -> AsyncIterator[Event]:
    """Events with seq > ``after`` still retained in the stream, in order."""
    start = "-" if channel in EPHEMERAL_CHANNELS else stream_id(after + 1)
    while True:
        entries = cast(Entries, await redis.xrange(key, start, "+", count=REPLAY_PAGE))
        for _entry_id, fields in entries:
            event = decode_entry(channel, fields)
            if event.seq > after:
                yield event
        if len(entries) < REPLAY_PAGE:
            return
        last_id = entries[-1][0]
        last_id = last_id.decode() if isinstance(last_id, bytes) else last_id
        start = "(" + last_id


async def replay_from_outbox(
    engine: AsyncEngine, channel: str, *, after: int, case_id: str | None = None
) -> AsyncGenerator[Event, None]:
    """Sequenced outbox rows with seq > ``after``, in order (the source for long gaps)."""
    while True:
        query = (
            select(OutboxEvent)
            .where(OutboxEvent.channel == channel, OutboxEvent.seq > after)
            .order_by(OutboxEvent.seq)
            .limit(REPLAY_PAGE)
        )
        if case_id is not None:
            # A case-token client may only see its case: no need to read everyone else's.
            query = query.where(OutboxEvent.payload["case_id"].astext == case_id)
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        for row in rows:
            yield Event(
                channel=row.channel,
                seq=row.seq,
                event_type=row.event_type,
                data=row.payload,
                at=row.created_at.isoformat(),
            )
        if len(rows) < REPLAY_PAGE:
            return
        after = rows[-1].seq


async def replay(
    *,
    redis: aioredis.Redis,
    engine: AsyncEngine,
    prefix: str,
    channel: str,
    after: int,
    case_id: str | None = None,
) -> AsyncIterator[Event]:
    """Every event after ``after``: from Redis if it still holds ``after + 1``, else the outbox."""
    key = stream_key(prefix, channel)
    if channel in EPHEMERAL_CHANNELS:
        async for event in replay_from_redis(redis, key, channel, after=after):
            yield event
        return
    first = await first_retained_seq(redis, key, channel)
    if first is not None and first <= after + 1:
        expected = after + 1
        contiguous = True
        buffered: list[Event] = []
        async for event in replay_from_redis(redis, key, channel, after=after):
            # Trimming can race with the read; a hole means fall back to the database.
            if event.seq != expected:
                contiguous = False
                break
            expected += 1
            buffered.append(event)
            if len(buffered) >= REPLAY_PAGE:
                for item in buffered:
                    yield item
                after = buffered[-1].seq
                buffered.clear()
        if contiguous:
            for item in buffered:
                yield item
            return
        if buffered:
            for item in buffered:
                yield item
            after = buffered[-1].seq
    async for event in replay_from_outbox(engine, channel, after=after, case_id=case_id):
        yield event
