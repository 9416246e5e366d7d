"""Batched GPS ingest: one Redis round trip and one database transaction per flush, not per fix.

Thousands of fixes a second arrive from the fleet. Each one used to cost a unit read, two Redis
calls, a stream publish and often a commit (~10 ms of a worker). Here fixes queue for a few
milliseconds and are stored together: one call of the live-position port for the whole batch
(dispatch.ports.LivePositions; in Redis, one Lua script) keeps each unit's newest live position,
decides the downsampled trail and publishes the live events; the trail points of
the batch go to PostgreSQL in one transaction. Whoever submitted a fix awaits its result.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from data.base import utcnow
from data.contention import is_contention
from data.errors import Conflict, InvalidInput, NotFound, Unavailable
from data.events import UnitPositionUpdated
from dispatch.models import Unit
from dispatch.ports import LiveFix, LivePositions
from dispatch.schemas import PositionPing
from dispatch.settings import DispatchSettings

#: Times a trail write aborted for contention is run again before it is reported as a conflict.
TRAIL_RETRIES = 4

log = logging.getLogger("lifeline.dispatch.position_ingest")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Fixes further ahead of the server clock than this are refused (a device with a wrong clock).
FUTURE_TOLERANCE_S = 30.0



class UnitNotFound(NotFound):
    """No unit with that id."""

    code = "unit_not_found"


@dataclass(frozen=True)
class Fix:
    """One GPS fix of one unit, already range-checked by the caller's schema."""

    unit_id: uuid.UUID
    lat: float
    lng: float
    recorded_at: datetime
    heading: float | None = None
    speed: float | None = None

    @classmethod
    def of(cls, unit_id: uuid.UUID, ping: PositionPing) -> Fix:
        """The fix a validated ping (HTTP body or socket message) reports for ``unit_id``."""
        return cls(unit_id=unit_id, lat=ping.lat, lng=ping.lng, recorded_at=ping.recorded_at,
                   heading=ping.heading, speed=ping.speed)


@dataclass(frozen=True)
class FixResult:
    """Whether the fix became the unit's live position and whether it joined the trail."""

    live: bool
    trail_stored: bool


@dataclass(frozen=True)
class UnitCard:
    """What a position event says about its unit besides the fix."""

    call_sign: str
    status: str
    case_id: uuid.UUID | None
    read_at: float


def check_fix(fix: Fix, now: datetime) -> None:
    """Refuse what can never be stored: a naive time, or one from the future."""
    if fix.recorded_at.tzinfo is None:
        raise InvalidInput("recorded_at needs a timezone", field="recorded_at")
    if (fix.recorded_at - now).total_seconds() > FUTURE_TOLERANCE_S:
        raise InvalidInput("recorded_at is in the future", field="recorded_at")


def parse_live(value: bytes | str | None) -> tuple[datetime, float, float] | None:
    """(recorded_at, lat, lng) of a live-hash field, or None."""
    if not value:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    recorded_us, lat, lng = text.split("|")
    when = datetime.fromtimestamp(int(recorded_us) / 1_000_000, tz=UTC)
    return when, float(lat), float(lng)


def recorded_us(at: datetime) -> int:
    """Microseconds since the epoch: exact for any fix (floats of seconds are not)."""
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class PositionIngest:
    """Queues fixes and stores them in batches; :meth:`run` is the worker's flush loop."""

    def __init__(
        self,
        *,
        live: LivePositions,
        session_factory: async_sessionmaker[AsyncSession],
        settings: DispatchSettings,
        window_s: float = 0.005,
        max_batch: int = 1_000,
        card_ttl_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.live = live
        self.session_factory = session_factory
        self.settings = settings
        self.window_s = window_s
        self.max_batch = max_batch
        self.card_ttl_s = card_ttl_s
        self.clock = clock
        self.cards: dict[uuid.UUID, UnitCard] = {}
        self.pending: list[tuple[Fix, asyncio.Future[FixResult]]] = []
        self.running = False
        self.flushes = 0
        self._wake = asyncio.Event()

    def submit(self, fix: Fix) -> asyncio.Future[FixResult]:
        """Queue a fix (checked at once); the future resolves when its batch is stored."""
        check_fix(fix, utcnow())
        future: asyncio.Future[FixResult] = asyncio.get_running_loop().create_future()
        self.pending.append((fix, future))
        self._wake.set()
        return future

    async def record(self, fix: Fix) -> FixResult:
        """Store one fix and wait for it (stored at once when no flush loop runs)."""
        future = self.submit(fix)
        if not self.running:
            await self.flush_pending()
        return await future

    async def run(self) -> None:
        """Flush whatever has queued, a few milliseconds after the first fix of a batch."""
        self.running = True
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self.window_s > 0:
                    await asyncio.sleep(self.window_s)
                while self.pending:
                    await self.flush_pending()
        finally:
            self.running = False
            for _fix, future in self.pending:
                if not future.done():
                    future.set_exception(Unavailable("the worker is stopping; send it again"))
            self.pending = []

    async def flush_pending(self) -> None:
        """Store up to ``max_batch`` queued fixes and resolve their futures."""
        batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
        batch = [(fix, future) for fix, future in batch if not future.done()]
        if not batch:
            return
        self.flushes += 1
        try:
            results = await self._store([fix for fix, _ in batch])
        except Exception as exc:  # noqa: BLE001 - every waiter must hear about the failure
            if not isinstance(exc, (Unavailable, NotFound, InvalidInput, Conflict)):
                log.warning("storing %d fixes failed: %s", len(batch), exc)
                exc = Unavailable("positions cannot be stored right now; send them again")
            for _fix, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_fix, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _cards(self, unit_ids: set[uuid.UUID]) -> dict[uuid.UUID, UnitCard]:
        """Call sign, status and case of each unit, read again when older than ``card_ttl_s``."""
        now = self.clock()
        stale = [u for u in unit_ids if (c := self.cards.get(u)) is None
                 or now - c.read_at > self.card_ttl_s]
        if stale:
            async with self.session_factory() as session:
                rows = await session.execute(
                    select(Unit.id, Unit.call_sign, Unit.status, Unit.current_case_id).where(
                        Unit.id.in_(stale)
                    )
                )
                for unit_id, call_sign, status, case_id in rows:
                    self.cards[unit_id] = UnitCard(call_sign, status, case_id, now)
            for unit_id in stale:
                card = self.cards.get(unit_id)
                if card is not None and card.read_at != now:
                    del self.cards[unit_id]  # deleted since it was read
        return {u: self.cards[u] for u in unit_ids if u in self.cards}

    async def _store(self, fixes: list[Fix]) -> list[FixResult | Exception]:
        cards = await self._cards({fix.unit_id for fix in fixes})
        now = utcnow()
        stale_s = self.settings.position_stale_seconds
        known: list[int] = []
        live_fixes: list[LiveFix] = []
        for i, fix in enumerate(fixes):
            card = cards.get(fix.unit_id)
            if card is None:
                continue
            known.append(i)
            fresh = (now - fix.recorded_at).total_seconds() < stale_s
            # One JSON for the event and the live hash: readers of the hash take what they need.
            payload: UnitPositionUpdated = {
                "unit_id": str(fix.unit_id), "call_sign": card.call_sign, "status": card.status,
                "case_id": str(card.case_id) if card.case_id else None,
                "lat": fix.lat, "lng": fix.lng, "heading": fix.heading, "speed": fix.speed,
                "recorded_at": fix.recorded_at.isoformat(),
            }
            event = json.dumps(payload)
            live_fixes.append(LiveFix(fix.unit_id, recorded_us(fix.recorded_at), fresh, fix.lat,
                                      fix.lng, event))
        replies: list[int] = []
        if known:
            replies = await self.live.store(
                live_fixes,
                now_ms=int(now.timestamp() * 1000),
                at=now.isoformat(),
                trail_interval_us=int(self.settings.trail_min_interval_seconds * 1_000_000),
                trail_distance_m=self.settings.trail_min_distance_m,
            )
        results: list[FixResult | Exception] = [
            UnitNotFound(f"no unit {fix.unit_id}") for fix in fixes
        ]
        trail: list[Fix] = []
        for i, flags in zip(known, replies, strict=True):
            live, stored = bool(int(flags) & 2), bool(int(flags) & 1)
            results[i] = FixResult(live, stored)
            if stored:
                trail.append(fixes[i])
        if trail:
            await self._store_trail(trail)
        return results

    async def _store_trail(self, trail: list[Fix]) -> None:
        """Trail points and each unit's newest stored fix, in one transaction.

        Points are built by PostGIS from the coordinates (no geometry objects in Python), and
        the newest fix wins in SQL: concurrent batches (and a dispatch meanwhile) must not fail
        each other or move a unit back in time. Units are updated in id order, so two batches
        never lock them crosswise; a transaction PostgreSQL still aborts for contention is run
        again (only this part: the live positions are already published) and then reported as
        the conflict it is, never as an outage.
        """
        newest: dict[uuid.UUID, Fix] = {}
        for fix in trail:
            if fix.unit_id not in newest or newest[fix.unit_id].recorded_at < fix.recorded_at:
                newest[fix.unit_id] = fix
        points = [
            {"id": uuid.uuid4(), "unit_id": fix.unit_id, "lng": fix.lng, "lat": fix.lat,
             "heading": fix.heading, "speed": fix.speed, "recorded_at": fix.recorded_at}
            for fix in trail
        ]
        moves = [
            {"unit_id": fix.unit_id, "lng": fix.lng, "lat": fix.lat,
             "recorded_at": fix.recorded_at}
            for _, fix in sorted(newest.items(), key=lambda item: item[0])
        ]
        for attempt in range(TRAIL_RETRIES + 1):
            try:
                async with self.session_factory() as session:
                    await session.execute(_INSERT_TRAIL, points)
                    await session.execute(_MOVE_UNIT, moves)
                    await session.commit()
                return
            except DBAPIError as exc:
                if not is_contention(exc):
                    raise
                log.info("trail write met contention (attempt %d)", attempt + 1)
                await asyncio.sleep(random.uniform(0, 0.02 * (attempt + 1)))
        raise Conflict(
            "positions kept colliding with other writes; send them again",
            code="write_conflict",
        )


_INSERT_TRAIL = text(
    "INSERT INTO unit_positions (id, unit_id, position, heading, speed, recorded_at) "
    "VALUES (:id, :unit_id, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326), :heading, :speed, "
    ":recorded_at)"
)
_MOVE_UNIT = text(
    "UPDATE units SET last_position = ST_SetSRID(ST_MakePoint(:lng, :lat), 4326), "
    "last_position_at = :recorded_at "
    "WHERE id = :unit_id AND (last_position_at IS NULL OR last_position_at < :recorded_at)"
)
