"""The API form of a text message."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from messaging.models import SmsMessage


class SmsView(BaseModel):
    """One SMS as operators see it in the outbox (``from``/``to`` as Twilio names them)."""

    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    direction: str
    case_id: uuid.UUID | None
    unit_id: uuid.UUID | None
    purpose: str
    to: str
    from_: str | None = Field(alias="from")
    body: str
    status: str
    attempts: int
    last_error: str | None
    provider_sid: str | None
    created_at: datetime

    @classmethod
    def of(cls, message: SmsMessage) -> SmsView:
        """From the stored row."""
        return cls.model_validate({
            "id": message.id, "direction": message.direction, "case_id": message.case_id,
            "unit_id": message.unit_id, "purpose": message.purpose, "to": message.to_number,
            "from": message.from_number, "body": message.body, "status": message.status,
            "attempts": message.attempts, "last_error": message.last_error,
            "provider_sid": message.provider_sid, "created_at": message.created_at,
        })
