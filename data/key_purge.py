"""Idempotency keys are kept 24 hours, then purged on a schedule by exactly one worker.

Every worker runs :func:`purge_on_schedule`; the one holding a PostgreSQL advisory lock (on a
connection of its own) purges every ``interval_s``, the others stand by and take over when it
goes away, as the outbox relay does.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg

from data.db import sync_url

log = logging.getLogger("lifeline.idempotency")

#: pg advisory lock id of the purging worker (a constant bigint unique to this purpose).
PURGE_LOCK_KEY = 7_214_661_000_024
PURGE_SQL = "DELETE FROM idempotency_keys WHERE expires_at < now()"


def _libpq(url: str) -> str:
    return sync_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


async def purge_once(conn: psycopg.AsyncConnection) -> int:
    """Delete the keys past their retention; returns how many."""
    cursor = await conn.execute(PURGE_SQL)
    return cursor.rowcount or 0


async def purge_on_schedule(
    database_url: str, *, interval_s: float = 3600.0, standby_s: float | None = None,
    lock_key: int = PURGE_LOCK_KEY,
) -> None:
    """Purge at start-up and then every ``interval_s`` while this worker holds the lock."""
    standby_s = interval_s if standby_s is None else standby_s
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                _libpq(database_url), autocommit=True, application_name="lifeline-key-purge"
            ) as conn:
                cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", [lock_key])
                row = await cursor.fetchone()
                while row and row[0]:
                    purged = await purge_once(conn)
                    log.info("purged %d expired idempotency keys", purged)
                    await asyncio.sleep(interval_s)
        except asyncio.CancelledError:
            raise
        except (psycopg.Error, OSError) as exc:
            log.warning("idempotency key purge failed (%s); retrying", exc)
        await asyncio.sleep(standby_s)
