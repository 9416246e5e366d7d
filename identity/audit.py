"""The audit trail: an insert-only, SHA-256 hash-chained log of who read or changed what."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from data.base import utcnow
from identity.models import AuditEntry

GENESIS = "0" * 64
#: Serialises appends so each row names the hash of the one before it.
CHAIN_LOCK = 0x4C494645  # "LIFE"


@dataclass
class AuditEvent:
    """What one audit row says; ``purpose`` carries a break-glass reason."""

    actor: str
    action: str
    outcome: str
    actor_user_id: uuid.UUID | None = None
    role: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    patient_id: uuid.UUID | None = None
    purpose: str | None = None
    ip: str | None = None
    priority: bool = False
    details: dict[str, Any] = field(default_factory=dict)


def canonical(row: Any, at: datetime) -> bytes:
    """The bytes the hash covers: every field but the hashes, in a fixed order and format."""
    values = {
        "at": at.astimezone(UTC).isoformat(),
        "actor_user_id": str(row.actor_user_id) if row.actor_user_id else None,
        "actor": row.actor,
        "role": row.role,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "patient_id": str(row.patient_id) if row.patient_id else None,
        "purpose": row.purpose,
        "outcome": row.outcome,
        "ip": str(row.ip) if row.ip else None,
        "priority": bool(row.priority),
        "details": row.details or {},
    }
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()


def chain_hash(previous_hash: str, row: Any, at: datetime) -> str:
    """SHA-256 over the previous link and this row."""
    return hashlib.sha256(previous_hash.encode() + b"\n" + canonical(row, at)).hexdigest()


async def append_many(*, db_session: AsyncSession, events: list[AuditEvent]) -> list[int]:
    """Chain several rows in one transaction (one lock wait, one commit); returns their seqs.

    Plain rows, not ORM objects, and four round trips whatever the batch size: every request
    of the service is audited, so this is a tax on all of them.
    """
    await db_session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
    # Under the lock: the chain's end, and the batch's seq numbers (rising with the chain).
    previous, numbers = (
        await db_session.execute(
            text(
                "SELECT (SELECT record_hash FROM audit_log ORDER BY seq DESC LIMIT 1), "
                "array(SELECT nextval(pg_get_serial_sequence('audit_log', 'seq')) "
                "FROM generate_series(1, :n))"
            ),
            {"n": len(events)},
        )
    ).one()
    previous = previous or GENESIS
    rows = []
    for seq, event in zip(sorted(numbers), events, strict=True):
        at = utcnow()
        record_hash = chain_hash(previous, event, at)
        rows.append({**event.__dict__, "seq": seq, "at": at, "previous_hash": previous,
                     "record_hash": record_hash})
        previous = record_hash
    await db_session.execute(insert(AuditEntry.__table__), rows)
    await db_session.commit()
    return [row["seq"] for row in rows]


class AuditWriter:
    """One per process: audit rows of concurrent requests are chained and committed in batches.

    Each request still waits until its row is committed, but while waiting it holds no database
    connection, and a burst of requests shares one chain-lock wait and one commit instead of
    queueing one connection each on the lock (which starved the pool under load).
    """

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, max_batch: int = 200
    ) -> None:
        self._session_factory = session_factory
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[AuditEvent, asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def write(self, event: AuditEvent) -> None:
        """Return once ``event`` is committed at the end of the chain (raise if it was not)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="audit-writer")
        await asyncio.shield(done)  # a cancelled request does not take its row with it

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                async with self._session_factory() as session:
                    await append_many(db_session=session, events=[e for e, _ in batch])
            except Exception as exc:  # noqa: BLE001 - each waiting request hears of it
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def close(self, *, timeout_s: float = 5.0) -> None:
        """Write what is queued (within ``timeout_s``), then stop."""
        if self._task is not None and not self._task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def for_patient(
    *, db_session: AsyncSession, patient_id: uuid.UUID, limit: int, before_seq: int | None
) -> list[AuditEntry]:
    """Who touched this patient's data, newest first."""
    query = select(AuditEntry).where(AuditEntry.patient_id == patient_id)
    if before_seq is not None:
        query = query.where(AuditEntry.seq < before_seq)
    rows = await db_session.scalars(query.order_by(AuditEntry.seq.desc()).limit(limit))
    return list(rows)


@dataclass(frozen=True)
class Verdict:
    """The outcome of walking the chain."""

    rows: int
    first_bad_seq: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        """No tampering found."""
        return self.first_bad_seq is None


def walk(rows: Iterable[Any]) -> Verdict:
    """Recompute every link; the first row whose content or link does not match is named."""
    previous = GENESIS
    count = 0
    for row in rows:
        count += 1
        if row.previous_hash != previous:
            return Verdict(count, row.seq, "previous_hash does not name the row before")
        if chain_hash(previous, row, row.at) != row.record_hash:
            return Verdict(count, row.seq, "content does not match record_hash")
        previous = row.record_hash
    return Verdict(count, None, None)


def verify(conn: Connection, *, batch: int = 5000) -> Verdict:
    """Walk the whole chain in ``seq`` order, streaming."""

    def rows() -> Iterator[Any]:
        result = conn.execution_options(yield_per=batch).execute(
            select(AuditEntry.__table__).order_by(AuditEntry.seq)
        )
        yield from result

    return walk(rows())


async def count(*, db_session: AsyncSession) -> int:
    """Rows in the trail."""
    return int(await db_session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
