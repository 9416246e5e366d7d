"""Idempotency keys (IETF httpapi draft semantics):
a retried request returns what the first one made."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from data.base import Base, utcnow
from data.errors import InvalidInput

#: Keys are kept at least this long; a retry within it never creates a second resource.
KEY_RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotencyRecord(Base):
    """A claimed key: which caller used it, for which request, and what it created."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


_KEYS = IdempotencyRecord.__table__
_FRESH = ("request_hash", "resource_type", "resource_id", "created_at", "expires_at")
_INSERT_KEY = insert(_KEYS).values(
    scope=bindparam("scope"), key=bindparam("key"), **{name: bindparam(name) for name in _FRESH}
)
#: Built once (every SOS runs it): a new key is inserted, an expired one taken over as if new;
#: a live key returns no row. Rebuilding it per call cost more than running it.
CLAIM = _INSERT_KEY.on_conflict_do_update(
    index_elements=["scope", "key"],
    set_={name: _INSERT_KEY.excluded[name] for name in _FRESH},
    where=_KEYS.c.expires_at < bindparam("now"),
).returning(_KEYS.c.key)


@dataclass(frozen=True)
class IdempotencyKey:
    """A caller's key, scoped so two callers choosing the same key never collide."""

    scope: str
    key: str

    def __post_init__(self) -> None:
        if not self.key or len(self.key) > MAX_KEY_LENGTH or not self.key.isprintable():
            raise InvalidInput(
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters",
                field="Idempotency-Key",
            )


def request_fingerprint(body: dict[str, Any]) -> str:
    """Canonical hash of a request body, to tell a retry from a different request."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    db_session: AsyncSession,
    *,
    key: IdempotencyKey,
    request_hash: str,
    resource_type: str,
    resource_id: uuid.UUID | None = None,
) -> IdempotencyRecord | None:
    """Claim ``key`` in the caller's transaction (one round trip when the key is new).

    Returns None when the caller now owns the key and must create the resource (whose id may
    be given now, instead of a :func:`bind` later), or the earlier record when the key was used
    before. A concurrent claim waits for the first transaction to end (the unique index does
    that), so exactly one caller creates. An expired key is taken over as if it were new.
    """
    now = utcnow()
    inserted = await db_session.execute(CLAIM, {
        "scope": key.scope, "key": key.key, "now": now, "request_hash": request_hash,
        "resource_type": resource_type, "resource_id": resource_id, "created_at": now,
        "expires_at": now + KEY_RETENTION,
    })
    if inserted.first() is not None:
        return None
    existing = (
        await db_session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == key.scope, IdempotencyRecord.key == key.key
            )
        )
    ).scalar_one()
    if existing.request_hash != request_hash or existing.resource_type != resource_type:
        raise InvalidInput(
            "this Idempotency-Key was already used with a different request body",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return existing


async def bind(db_session: AsyncSession, *, key: IdempotencyKey, resource_id: uuid.UUID) -> None:
    """Record what the claimed key created, in the same transaction as the creation."""
    await db_session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == key.scope, IdempotencyRecord.key == key.key)
        .values(resource_id=resource_id)
    )
