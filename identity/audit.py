"""The audit trail: an insert-only, SHA-256 hash-chained log of who read or changed what."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

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


async def append(*, db_session: AsyncSession, event: AuditEvent) -> AuditEntry:
    """Write one row at the end of the chain and commit (its own short transaction)."""
    await db_session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
    previous = await db_session.scalar(
        select(AuditEntry.record_hash).order_by(AuditEntry.seq.desc()).limit(1)
    )
    at = utcnow()
    entry = AuditEntry(at=at, **event.__dict__)
    entry.previous_hash = previous or GENESIS
    entry.record_hash = chain_hash(entry.previous_hash, entry, at)
    db_session.add(entry)
    await db_session.commit()
    return entry


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
