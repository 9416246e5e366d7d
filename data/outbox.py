"""Transactional outbox: events are rows committed with the change,
so nothing shown was not committed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Identity, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from data.base import Base, utcnow
from data.events import EventPayload

# The relay's statements (realtime.relay), kept beside the table they read and write.
#: NOTIFY channel of the outbox insert trigger (migration 0004): wakes the relay.
NOTIFY_CHANNEL = "lifeline_outbox"

#: Numbers committed rows per channel, continuing from the channel's highest seq.
SEQUENCE_SQL = """
WITH batch AS (
    SELECT id, channel FROM outbox
    WHERE seq IS NULL
    ORDER BY id
    FOR UPDATE SKIP LOCKED
    LIMIT %(limit)s
), heads AS (
    SELECT c.channel,
           COALESCE((SELECT max(o.seq) FROM outbox o WHERE o.channel = c.channel), 0) AS head
    FROM (SELECT DISTINCT channel FROM batch) AS c
), numbered AS (
    SELECT b.id, h.head + row_number() OVER (PARTITION BY b.channel ORDER BY b.id) AS seq
    FROM batch AS b JOIN heads AS h USING (channel)
)
UPDATE outbox SET seq = numbered.seq
FROM numbered
WHERE outbox.id = numbered.id
"""

#: Sequenced rows not yet in Redis, in publishing order.
UNPUBLISHED_SQL = """
SELECT id, channel, seq, event_type, payload::text, created_at
FROM outbox
WHERE published_at IS NULL AND seq IS NOT NULL
ORDER BY channel, seq
LIMIT %(limit)s
"""

#: Rows now in Redis.
MARK_SQL = "UPDATE outbox SET published_at = now() WHERE id = ANY(%(ids)s)"


class OutboxEvent(Base):
    """One event waiting to be (or already) published to real-time subscribers."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
        Index("uq_outbox_channel_seq", "channel", "seq", unique=True),
        Index("ix_outbox_unsequenced", "id", postgresql_where=text("seq IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    aggregate_type: Mapped[str] = mapped_column(String(32))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    #: Per-channel position assigned by the relay after commit; clients resume from it.
    seq: Mapped[int | None] = mapped_column(BigInteger)


def record_event(
    db_session: AsyncSession | Session,
    *,
    channel: str,
    event_type: str,
    aggregate_type: str,
    aggregate_id: uuid.UUID | str,
    payload: EventPayload,
) -> OutboxEvent:
    """Add an event to the caller's transaction;
    it is published only if that transaction commits.

    ``payload`` is the typed payload of ``event_type``'s kind (data.events), stored as it is.
    """
    event = OutboxEvent(
        channel=channel,
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        payload=cast(dict[str, Any], payload),
    )
    db_session.add(event)
    return event
