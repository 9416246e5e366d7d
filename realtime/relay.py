"""The outbox relay: numbers committed events per channel and publishes them to Redis streams.

Every worker runs one, plus ``lifeline relay`` if wanted; a PostgreSQL advisory lock held on a
dedicated connection makes exactly one of them active, and the others take over within a
second when it dies (the lock goes with its connection).

Two steps, each safe to repeat after a crash:

1. *Sequence*: in one transaction, give unsequenced rows the next ``seq`` of their channel.
   ``FOR UPDATE SKIP LOCKED`` and the unique (channel, seq) index keep even two relays that
   overlap for a moment from producing duplicates or holes that survive a commit.
2. *Publish*: ``XADD`` with the explicit id ``{seq}-0``, then set ``published_at``. A re-publish
   after a crash is refused by Redis ("equal or smaller") and counts as done. While Redis is
   down, step 1 continues and step 2 retries with back-off: the outbox keeps everything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass

import psycopg
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from data.outbox import MARK_SQL, NOTIFY_CHANNEL, SEQUENCE_SQL, UNPUBLISHED_SQL
from realtime import streams
from realtime.settings import RealtimeSettings

log = logging.getLogger("lifeline.realtime.relay")

#: pg advisory lock id of the active relay (any constant bigint unique to this purpose).
LOCK_KEY = 0x4C49_4645_4C4E  # "LIFELN"


def libpq_url(url: str) -> str:
    """psycopg wants a plain libpq URL, not SQLAlchemy's ``postgresql+psycopg://``."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass
class RelayStats:
    """Counters for health checks, logs and tests."""

    active: bool = False
    sequenced: int = 0
    published: int = 0
    publish_failures: int = 0


class Relay:
    """One relay instance; :meth:`run` loops until cancelled."""

    def __init__(
        self, *, database_url: str, redis: aioredis.Redis, settings: RealtimeSettings
    ) -> None:
        self.database_url = libpq_url(database_url)
        self.redis = redis
        self.settings = settings
        self.stats = RelayStats()

    async def run(self) -> None:
        """Stand by for the lock, then relay; reconnect after any database failure."""
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.database_url,
                    autocommit=True,
                    application_name=f"lifeline-relay:{os.getpid()}",
                )
                try:
                    await self._wait_for_lock(conn)
                    log.info("relay active (pid lock %s)", LOCK_KEY)
                    await self._lead(conn)
                finally:
                    self.stats.active = False
                    await conn.close()
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as exc:
                log.warning("relay lost the database (%s); retrying", exc)
                await asyncio.sleep(self.settings.relay_lock_retry_seconds)

    async def _wait_for_lock(self, conn: psycopg.AsyncConnection) -> None:
        while True:
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            row = await cursor.fetchone()
            if row and row[0]:
                self.stats.active = True
                return
            await asyncio.sleep(self.settings.relay_lock_retry_seconds)

    async def _lead(self, conn: psycopg.AsyncConnection) -> None:
        await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        backoff = 0.0
        publish_after = 0.0
        while True:
            busy = await self.sequence(conn) >= self.settings.relay_batch
            if time.monotonic() >= publish_after:
                try:
                    busy = await self.publish(conn) >= self.settings.relay_batch or busy
                    backoff = 0.0
                except (RedisError, OSError) as exc:
                    self.stats.publish_failures += 1
                    backoff = min(max(backoff * 2, 0.1), 2.0)
                    publish_after = time.monotonic() + backoff
                    log.warning("publishing failed (%s); retrying in %.1f s", exc, backoff)
            if not busy:
                await self._wait(conn, self.settings.relay_poll_seconds)

    async def _wait(self, conn: psycopg.AsyncConnection, timeout: float) -> None:
        """Sleep until an outbox INSERT commits (NOTIFY) or ``timeout`` passes."""
        async for _ in conn.notifies(timeout=timeout, stop_after=1):
            pass

    async def sequence(self, conn: psycopg.AsyncConnection) -> int:
        """Number one batch of committed, unsequenced rows; returns how many."""
        try:
            async with conn.transaction():
                cursor = await conn.execute(SEQUENCE_SQL, {"limit": self.settings.relay_batch})
                count = cursor.rowcount
        except psycopg.errors.UniqueViolation:
            # Another relay numbered the same channel concurrently; the next pass retries.
            log.warning("seq clash with another relay; retrying")
            return 0
        self.stats.sequenced += count
        return count

    async def publish(self, conn: psycopg.AsyncConnection) -> int:
        """XADD one batch of sequenced, unpublished rows and mark them; returns how many."""
        cursor = await conn.execute(UNPUBLISHED_SQL, {"limit": self.settings.relay_batch})
        rows = await cursor.fetchall()
        if not rows:
            return 0
        prefix = self.settings.stream_prefix
        async with self.redis.pipeline(transaction=False) as pipe:
            for _id, channel, seq, event_type, payload, created_at in rows:
                pipe.xadd(
                    streams.stream_key(prefix, channel),
                    streams.encode_fields(
                        seq=seq,
                        event_type=event_type,
                        data=payload,  # JSON text as stored: no decode and re-encode
                        at=created_at.isoformat(),
                    ),
                    id=streams.stream_id(seq),
                    maxlen=self.settings.stream_maxlen,
                    approximate=True,
                )
            results = await pipe.execute(raise_on_error=False)
        done: list[int] = []
        failure: Exception | None = None
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, ResponseError) and "equal or smaller" in str(result):
                done.append(row[0])  # published before a crash: already in the stream
            elif isinstance(result, Exception):
                failure = result
                break
            else:
                done.append(row[0])
        if done:
            await conn.execute(MARK_SQL, {"ids": done})
            self.stats.published += len(done)
        if failure is not None:
            if isinstance(failure, RedisError):
                raise failure
            raise RedisError(str(failure))
        return len(done)
