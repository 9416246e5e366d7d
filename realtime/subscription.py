"""One channel of one connection: who may see what, and the replay that closes a gap.

Kept apart from the hub's reader so the delivery rules (authorisation, filters, the sequence
gate, replay from Redis or the outbox) read on their own and are tested without a reader loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from data.events import EPHEMERAL_CHANNELS
from realtime import streams
from realtime.authz import Principal, shape, visible
from realtime.resume import SeqGate
from realtime.sink import SLOW_CONSUMER, Sink
from realtime.streams import Event, EventBatch

log = logging.getLogger("lifeline.realtime.hub")

REPLAY_FAILED = 1011


@dataclass(frozen=True)
class ReplayFrom:
    """Where a subscription replays missed events from: the streams, else the outbox."""

    redis: aioredis.Redis
    engine: AsyncEngine
    prefix: str


def view_of(principal: Principal, filters: dict[str, str], event: Event) -> Event | None:
    """The event as this subscriber may see it, or None: authorised, wanted, and shaped."""
    if not visible(principal, event.channel, filters, event.data):
        return None
    shown = shape(principal, event.event_type, event.data)
    if shown is None:
        return None
    if shown is event.data:
        return event
    return Event(event.channel, event.seq, event.event_type, dict(shown), event.at)


@dataclass(eq=False)
class Subscription:
    """One channel of one sink, with its authorisation, filters and sequence gate."""

    source: ReplayFrom
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

    def deliver_live(self, event: Event, shown: Event | None) -> None:
        """Called by the hub for every event of the channel; ``shown``: the form this one may
        see (None: not visible)."""
        for _ in self.gate.live(event):
            if shown is not None:
                self.sink.offer(shown)
        if self.gate.held > self.sink.maxsize:
            self.sink.close(SLOW_CONSUMER, "slow consumer")

    def deliver_batch(self, events: list[Event], shown: EventBatch | None) -> None:
        """Coalesced events (seq order); ``shown``: those this subscriber's audience may see."""
        if self.gate.replaying or not self.sink.accepts_batches:
            by_seq = {e.seq: e for e in shown.events} if shown is not None else {}
            for event in events:
                self.deliver_live(event, by_seq.get(event.seq))
            return
        position = self.gate.position
        if position is not None and events[-1].seq <= position:
            return
        self.gate.position = events[-1].seq
        if shown is None:
            return
        if position is not None and shown.events[0].seq <= position:
            fresh = tuple(e for e in shown.events if e.seq > position)
            shown = EventBatch(fresh) if fresh else None
        if shown is not None:
            self.sink.offer(shown)

    def _offer(self, event: Event) -> None:
        shown = view_of(self.principal, self.filters, event)
        if shown is not None:
            self.sink.offer(shown)

    async def run_replay(self, after: int) -> None:
        """Replay seq > ``after``, then release the live events held meanwhile."""
        try:
            case_id = self.principal.case_id
            try:
                source = streams.replay(
                    redis=self.source.redis,
                    engine=self.source.engine,
                    prefix=self.source.prefix,
                    channel=self.channel,
                    after=after,
                    case_id=case_id,
                )
                async for event in source:
                    if self.gate.replayed(event) and (
                        shown := view_of(self.principal, self.filters, event)
                    ) is not None:
                        await self.sink.put(shown)
            except RedisError:
                if self.channel in EPHEMERAL_CHANNELS:
                    raise
                # Redis is away: the outbox alone has every sequenced event.
                async for event in streams.replay_from_outbox(
                    self.source.engine, self.channel, after=self.gate.position or after,
                    case_id=case_id,
                ):
                    if self.gate.replayed(event) and (
                        shown := view_of(self.principal, self.filters, event)
                    ) is not None:
                        await self.sink.put(shown)
        except asyncio.CancelledError:
            raise
        except Exception:  # a replay that cannot finish must not leave a gap
            log.exception("replay of %s failed", self.channel)
            self.sink.close(REPLAY_FAILED, "replay failed; reconnect with last_seq")
            return
        for item in self.gate.finish_replay():
            self._offer(item)


@dataclass(eq=False)
class Audience:
    """Subscriptions that see exactly the same events: authorisation is decided once for all."""

    principal: Principal
    filters: dict[str, str]
    subscriptions: set[Subscription] = field(default_factory=set)

    def sees(self, event: Event) -> Event | None:
        """``event`` as this audience may be shown it (None: not at all)."""
        return view_of(self.principal, self.filters, event)
