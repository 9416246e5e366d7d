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
from collections.abc import Hashable
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from data.events import EPHEMERAL_CHANNELS, addressing
from data.outbox import OutboxEvent
from realtime import streams
from realtime.authz import Principal, audience_key
from realtime.resume import SeqGate
from realtime.settings import RealtimeSettings
from realtime.sink import SLOW_CONSUMER, Close, Sink
from realtime.streams import CHANNELS, Event, EventBatch
from realtime.subscription import REPLAY_FAILED, Audience, ReplayFrom, Subscription

log = logging.getLogger("lifeline.realtime.hub")

__all__ = ["REPLAY_FAILED", "SLOW_CONSUMER", "Close", "Hub", "Sink", "Subscription"]



class Hub:
    """Reads every channel stream once per worker and fans events out to local subscribers."""

    def __init__(
        self, *, redis: aioredis.Redis, engine: AsyncEngine, settings: RealtimeSettings
    ) -> None:
        self.redis = redis
        self.engine = engine
        self.settings = settings
        self.replay_from = ReplayFrom(redis, engine, settings.stream_prefix)
        #: channel -> authorisation class (see :func:`realtime.authz.audience_key`) -> audience
        self.audiences: dict[str, dict[Hashable, Audience]] = defaultdict(dict)
        self.sinks: set[Sink] = set()
        #: The hub owns who listens where; a sink is only a mailbox.
        self.subscriptions_of: dict[Sink, set[Subscription]] = {}
        self.last_ids: dict[str, str] = {}
        self.heads: dict[str, int] = dict.fromkeys(CHANNELS, 0)
        self.stale = False
        self.ready = asyncio.Event()
        self.delivered = 0
        #: Ephemeral channel -> unit -> its newest event not yet shown (see run_coalescer).
        self.coalesced: dict[str, dict[str, Event]] = defaultdict(dict)

    def open_sink(self, *, heartbeats: bool = False, accepts_batches: bool = False) -> Sink:
        """A new connection's mailbox; it is told about outages (and, if asked, kept alive)."""
        sink = Sink(
            self.settings.queue_size,
            heartbeat_s=self.settings.heartbeat_seconds if heartbeats else None,
            accepts_batches=accepts_batches,
        )
        if heartbeats:
            sink.next_beat = asyncio.get_running_loop().time() + self._beat_lead()
        self.sinks.add(sink)
        self.subscriptions_of[sink] = set()
        if self.stale:
            sink.offer({"type": "stale"})
        return sink

    def close_sink(self, sink: Sink) -> None:
        """Forget a connection and all its subscriptions."""
        self.sinks.discard(sink)
        for sub in list(self.subscriptions_of.pop(sink, ())):
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
        filters = dict(filters or {})
        sub = Subscription(self.replay_from, sink, channel, principal, filters, gate)
        key = audience_key(principal, filters)
        audience = self.audiences[channel].get(key)
        if audience is None:
            audience = self.audiences[channel][key] = Audience(principal, filters)
        audience.subscriptions.add(sub)
        self.subscriptions_of.setdefault(sink, set()).add(sub)
        if ack:
            sink.offer({"type": "subscribed", "channel": channel, "seq": sub.position})
        if last_seq is not None:
            sub.replay_task = asyncio.create_task(sub.run_replay(last_seq))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub`` (and stop its replay)."""
        key = audience_key(sub.principal, sub.filters)
        audience = self.audiences[sub.channel].get(key)
        if audience is not None:
            audience.subscriptions.discard(sub)
            if not audience.subscriptions:
                del self.audiences[sub.channel][key]
        subs = self.subscriptions_of.get(sub.sink)
        if subs is not None:
            subs.discard(sub)
            if not subs and sub.sink not in self.sinks:
                del self.subscriptions_of[sub.sink]
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
        if event.channel in EPHEMERAL_CHANNELS and event.seq <= self.heads.get(event.channel, 0):
            self._counter_restarted(event.channel, event.seq)
        if event.seq > self.heads.get(event.channel, 0):
            self.heads[event.channel] = event.seq
        self.delivered += 1
        if self.settings.position_coalesce_ms and event.channel in EPHEMERAL_CHANNELS:
            # Only the newest fix of each unit matters: the coalescer shows it at its next tick.
            self.coalesced[event.channel][str(addressing(event.data).get("unit_id"))] = event
            return
        for audience in list(self.audiences.get(event.channel, {}).values()):
            shown = audience.sees(event)
            for sub in list(audience.subscriptions):
                sub.deliver_live(event, shown)

    def _counter_restarted(self, channel: str, seq: int) -> None:
        """The reader sees each stream entry once, so an ephemeral seq at or below the head means
        Redis lost its data (restarted without persistence) and counts from 1 again: start every
        subscriber of the channel over from here, or live positions would freeze until the new
        count passed the old one."""
        log.warning("%s restarted its count at %d (head was %d)", channel, seq,
                    self.heads.get(channel, 0))
        self.heads[channel] = seq - 1
        self.coalesced[channel].clear()
        for audience in self.audiences.get(channel, {}).values():
            for sub in audience.subscriptions:
                if not sub.replaying:
                    sub.gate.position = seq - 1

    def _advance_head(self, channel: str, fields: dict[Any, Any]) -> None:
        raw = fields.get(b"seq", fields.get("seq"))
        if raw is None:
            return
        try:
            seq = int(raw)
        except (TypeError, ValueError):
            return
        if seq > self.heads.get(channel, 0):
            self.heads[channel] = seq

    def flush_coalesced(self) -> None:
        """Show each unit's newest event: one batch per audience, one item per subscriber."""
        for channel, latest in list(self.coalesced.items()):
            if not latest:
                continue
            events = sorted(latest.values(), key=lambda e: e.seq)
            latest.clear()
            for audience in list(self.audiences.get(channel, {}).values()):
                shown = [v for event in events if (v := audience.sees(event)) is not None]
                batch = EventBatch(tuple(shown)) if shown else None
                for sub in list(audience.subscriptions):
                    sub.deliver_batch(events, batch)

    async def run_coalescer(self) -> None:
        """Every ``position_coalesce_ms``: the newest position of each unit that moved."""
        interval = self.settings.position_coalesce_ms / 1000
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            try:
                self.flush_coalesced()
            except Exception:  # one bad tick must not stop the positions
                log.exception("coalesced fan-out failed")

    def _beat_lead(self) -> float:
        """Delay to the next heartbeat, so that with the ticker's lag it is never late."""
        return max(self.settings.heartbeat_seconds - self._tick_s(), 0.0)

    def _tick_s(self) -> float:
        return min(1.0, self.settings.heartbeat_seconds / 10)

    async def run_ticker(self) -> None:
        """One timer for every connection: heartbeats when due, and drop stalled writers.

        Replaces a timeout around each send and each wait, which cost more than the send.
        """
        loop = asyncio.get_running_loop()
        tick = self._tick_s()
        limit = self.settings.send_timeout_seconds
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            for sink in list(self.sinks):
                if sink.stalled(now, limit):
                    # The client stopped reading: its TCP window is full. Do not wait for it.
                    sink.close(SLOW_CONSUMER, "slow consumer")
                    if sink.sender is not None:
                        sink.sender.cancel()
                elif sink.heartbeat_s is not None and now >= sink.next_beat:
                    sink.next_beat = now + self._beat_lead()
                    self._beat(sink)

    def _beat(self, sink: Sink) -> None:
        """Queue one heartbeat per subscription, with the position reached at this point."""
        for sub in list(self.subscriptions_of.get(sink, ())):
            sink.offer({"type": "heartbeat", "channel": sub.channel, "seq": sub.position})

    async def _initial_positions(self) -> None:
        """Start reading after what each stream already holds (earlier events are replays)."""
        prefix = self.settings.stream_prefix
        last_ids: dict[str, str] = {}
        for channel in CHANNELS:
            key = streams.stream_key(prefix, channel)
            last = cast(streams.Entries, await self.redis.xrevrange(key, "+", "-", count=1))
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
        except Exception:  # the heads are only a convenience
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
                for key, entries in cast(list[tuple[Any, streams.Entries]], response or []):
                    key = key.decode() if isinstance(key, bytes) else key
                    channel = key[len(prefix) :]
                    for entry_id, fields in entries:
                        self.last_ids[channel] = (
                            entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                        )
                        if not self.audiences.get(channel):
                            # Nobody here listens: keep the head, skip decoding the payload (a
                            # worker without consoles still reads thousands of fixes a second).
                            self._advance_head(channel, fields)
                            continue
                        try:
                            event = streams.decode_entry(channel, fields)
                        except (ValueError, KeyError, TypeError):
                            log.warning("skipping malformed entry %s in %s", entry_id, key)
                            continue
                        await self._fill_gap(event)
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
            except Exception:  # the reader must outlive any one bad batch
                log.exception("hub reader error")
                await asyncio.sleep(backoff)


    async def _fill_gap(self, event: Event) -> None:
        """Show from the outbox the seqs the stream skipped before ``event``.

        After a Redis failover the promoted replica may lack the last entries the relay wrote
        to the old master (replication is asynchronous); the relay has marked them published,
        so they come only from PostgreSQL. Relay order makes any jump in seq such a hole.
        """
        head = self.heads.get(event.channel, 0)
        if event.channel in EPHEMERAL_CHANNELS or head == 0 or event.seq <= head + 1:
            return
        log.warning("stream %s skipped seq %d..%d; reading them from the outbox",
                    event.channel, head + 1, event.seq - 1)
        source = streams.replay_from_outbox(self.engine, event.channel, after=head)
        try:
            async with contextlib.aclosing(source):
                async for missing in source:
                    if missing.seq >= event.seq:
                        break
                    self.fan_out(missing)
        except Exception:  # the live event must still go; a replay can recover
            log.exception("could not read the skipped events of %s", event.channel)


#: How long shutdown waits for each background task after cancelling it.
STOP_TIMEOUT_S = 5.0


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait for it, a few seconds at most.

    ``asyncio.wait`` neither raises the task's own error nor swallows a cancellation of the
    caller, so a shutdown is never stuck behind a task that ignores its cancel.
    """
    if task is None:
        return
    task.cancel()
    await asyncio.wait({task}, timeout=STOP_TIMEOUT_S)
