"""Per-worker fan-out: one Redis reader feeds every local subscription through bounded queues.

A subscriber that cannot keep up is dropped (close code 4008) instead of stalling the others.
When Redis is lost every connection is told ``stale``; the reader then resumes from the last
ids it saw, so the backlog arrives in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from data.outbox import OutboxEvent
from realtime import streams
from realtime.authz import Principal, visible
from realtime.resume import SeqGate
from realtime.settings import RealtimeSettings
from realtime.streams import CHANNELS, EPHEMERAL_CHANNELS, Event

log = logging.getLogger("lifeline.realtime.hub")

SLOW_CONSUMER = 4008
REPLAY_FAILED = 1011


@dataclass(frozen=True)
class Close:
    """Queue sentinel: the transport must close with this code."""

    code: int
    reason: str


class Sink:
    """The bounded mailbox of one client connection (a socket, an SSE stream, a long-poll)."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Event | dict[str, Any] | Close] = asyncio.Queue(maxsize)
        self.closed: Close | None = None

    def offer(self, item: Event | dict[str, Any]) -> bool:
        """Enqueue without waiting; a full queue closes the sink as a slow consumer."""
        if self.closed is not None:
            return False
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            self.close(SLOW_CONSUMER, "slow consumer")
            return False

    async def put(self, item: Event | dict[str, Any]) -> None:
        """Enqueue, waiting for room (replays pace themselves to the client)."""
        if self.closed is None:
            await self.queue.put(item)

    def close(self, code: int, reason: str) -> None:
        """Discard what is queued and tell the transport to close."""
        if self.closed is not None:
            return
        self.closed = Close(code, reason)
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(self.closed)


@dataclass(eq=False)
class Subscription:
    """One channel of one sink, with its authorisation, filters and sequence gate."""

    hub: Hub
    sink: Sink
    channel: str
    principal: Principal
    filters: dict[str, str]
    gate: SeqGate[Event]
    replay_task: asyncio.Task[None] | None = field(default=None)

    @property
    def position(self) -> int:
        """Last seq of the channel this subscriber is up to date with."""
        return self.gate.position or 0

    @property
    def replaying(self) -> bool:
        """Whether missed events are still being replayed."""
        return self.gate.replaying

    def deliver_live(self, event: Event) -> None:
        """Called by the hub for every event of the channel."""
        for item in self.gate.live(event):
            self._offer(item)
        if self.gate.held > self.sink.queue.maxsize:
            self.sink.close(SLOW_CONSUMER, "slow consumer")

    def _offer(self, event: Event) -> None:
        if visible(self.principal, self.channel, self.filters, event.data):
            self.sink.offer(event)

    async def run_replay(self, after: int) -> None:
        """Replay seq > ``after``, then release the live events held meanwhile."""
        try:
            case_id = self.principal.case_id
            try:
                source = streams.replay(
                    redis=self.hub.redis,
                    engine=self.hub.engine,
                    prefix=self.hub.settings.stream_prefix,
                    channel=self.channel,
                    after=after,
                    case_id=case_id,
                )
                async for event in source:
                    if self.gate.replayed(event) and visible(
                        self.principal, self.channel, self.filters, event.data
                    ):
                        await self.sink.put(event)
            except RedisError:
                if self.channel in EPHEMERAL_CHANNELS:
                    raise
                # Redis is away: the outbox alone has every sequenced event.
                async for event in streams.replay_from_outbox(
                    self.hub.engine, self.channel, after=self.gate.position or after,
                    case_id=case_id,
                ):
                    if self.gate.replayed(event) and visible(
                        self.principal, self.channel, self.filters, event.data
                    ):
                        await self.sink.put(event)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a replay that cannot finish must not leave a gap
            log.exception("replay of %s failed", self.channel)
            self.sink.close(REPLAY_FAILED, "replay failed; reconnect with last_seq")
            return
        for item in self.gate.finish_replay():
            self._offer(item)


class Hub:
    """Reads every channel stream once per worker and fans events out to local subscribers."""

    def __init__(
        self, *, redis: aioredis.Redis, engine: AsyncEngine, settings: RealtimeSettings
    ) -> None:
        self.redis = redis
        self.engine = engine
        self.settings = settings
        self.subscriptions: dict[str, set[Subscription]] = defaultdict(set)
        self.sinks: set[Sink] = set()
        self.last_ids: dict[str, str] = {}
        self.heads: dict[str, int] = dict.fromkeys(CHANNELS, 0)
        self.stale = False
        self.ready = asyncio.Event()
        self.delivered = 0

    def open_sink(self) -> Sink:
        """A new connection's mailbox; it is told about outages."""
        sink = Sink(self.settings.queue_size)
        self.sinks.add(sink)
        if self.stale:
            sink.offer({"type": "stale"})
        return sink

    def close_sink(self, sink: Sink) -> None:
        """Forget a connection and all its subscriptions."""
        self.sinks.discard(sink)
        for channel_subs in self.subscriptions.values():
            for sub in [s for s in channel_subs if s.sink is sink]:
                self.unsubscribe(sub)

    def subscribe(
        self,
        sink: Sink,
        *,
        channel: str,
        principal: Principal,
        filters: dict[str, str] | None = None,
        last_seq: int | None = None,
        ack: bool = True,
    ) -> Subscription:
        """Register first, then replay: whatever the hub delivers meanwhile is held by the gate."""
        gate: SeqGate[Event] = SeqGate(
            self.heads[channel] if last_seq is None else last_seq,
            replaying=last_seq is not None,
        )
        sub = Subscription(self, sink, channel, principal, dict(filters or {}), gate)
        self.subscriptions[channel].add(sub)
        if ack:
            sink.offer({"type": "subscribed", "channel": channel, "seq": sub.position})
        if last_seq is not None:
            sub.replay_task = asyncio.create_task(sub.run_replay(last_seq))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub`` (and stop its replay)."""
        self.subscriptions[sub.channel].discard(sub)
        if sub.replay_task is not None and not sub.replay_task.done():
            sub.replay_task.cancel()

    def broadcast(self, message: dict[str, Any]) -> None:
        """A notice to every connection of this worker."""
        for sink in list(self.sinks):
            sink.offer(message)

    def close_all(self, code: int, reason: str) -> None:
        """Ask every connection to close (worker shutdown)."""
        for sink in list(self.sinks):
            sink.close(code, reason)

    def fan_out(self, event: Event) -> None:
        """Deliver one event to every local subscription of its channel."""
        if event.seq > self.heads.get(event.channel, 0):
            self.heads[event.channel] = event.seq
        self.delivered += 1
        for sub in list(self.subscriptions.get(event.channel, ())):
            sub.deliver_live(event)

    async def _initial_positions(self) -> None:
        """Start reading after what each stream already holds (earlier events are replays)."""
        prefix = self.settings.stream_prefix
        last_ids: dict[str, str] = {}
        for channel in CHANNELS:
            key = streams.stream_key(prefix, channel)
            last = await self.redis.xrevrange(key, "+", "-", count=1)
            if last:
                entry_id, fields = last[0]
                last_ids[channel] = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                self.heads[channel] = streams.decode_entry(channel, fields).seq
            else:
                last_ids[channel] = "0-0"
        self.last_ids = last_ids
        # An empty stream (Redis flushed or restarted) says nothing about the past: the
        # outbox's published rows do. Unpublished ones are still to come live.
        try:
            async with self.engine.connect() as connection:
                rows = await connection.execute(
                    select(OutboxEvent.channel, func.max(OutboxEvent.seq))
                    .where(OutboxEvent.published_at.is_not(None))
                    .group_by(OutboxEvent.channel)
                )
                for channel, seq in rows:
                    empty = self.last_ids.get(channel) == "0-0"
                    if channel in self.heads and seq is not None and empty:
                        self.heads[channel] = max(self.heads[channel], seq)
        except Exception:  # noqa: BLE001 - the heads are only a convenience
            log.warning("could not read outbox heads", exc_info=True)

    async def run(self) -> None:
        """The reader loop: XREAD BLOCK on every channel stream, forever."""
        prefix = self.settings.stream_prefix
        backoff = 0.1
        while True:
            try:
                if not self.last_ids:
                    await self._initial_positions()
                    self.ready.set()
                response = await self.redis.xread(
                    {streams.stream_key(prefix, c): self.last_ids[c] for c in CHANNELS},
                    block=self.settings.hub_block_ms,
                    count=1_000,
                )
                if self.stale:
                    self.stale = False
                    log.info("Redis is back; resuming the streams")
                    self.broadcast({"type": "live"})
                backoff = 0.1
                for key, entries in response or ():
                    key = key.decode() if isinstance(key, bytes) else key
                    channel = key[len(prefix) :]
                    for entry_id, fields in entries:
                        self.last_ids[channel] = (
                            entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                        )
                        try:
                            event = streams.decode_entry(channel, fields)
                        except (ValueError, KeyError, TypeError):
                            log.warning("skipping malformed entry %s in %s", entry_id, key)
                            continue
                        self.fan_out(event)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if not self.stale:
                    self.stale = True
                    log.warning("lost Redis (%s); subscribers told stale", exc)
                    self.broadcast({"type": "stale"})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            except Exception:  # noqa: BLE001 - the reader must outlive any one bad batch
                log.exception("hub reader error")
                await asyncio.sleep(backoff)


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait for it."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
