"""Every SMS is a row first, written with the change that caused it, then sent by a worker."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from data.base import Base, id_column, utcnow


class SmsMessage(Base):
    """An outbound or inbound text message."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        Index("ix_sms_messages_case_created", "case_id", "created_at"),
        Index(
            "ix_sms_messages_due",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
        ),
    )

    id: Mapped[uuid.UUID] = id_column()
    direction: Mapped[str] = mapped_column(String(8), default="outbound")  # outbound | inbound
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("emergency_cases.id"))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("units.id"))
    purpose: Mapped[str] = mapped_column(String(32))  # crew_link | crew_reply | reminder ...
    to_number: Mapped[str] = mapped_column(String(20))
    from_number: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    # queued -> sending -> sent/delivered (provider) | stored (local outbox) | failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
