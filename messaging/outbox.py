"""Queue a message in the caller's transaction: it is sent only if the change commits."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import SmsMessage

MAX_BODY = 1600  # Twilio's limit for a concatenated message


def queue_sms(
    db_session: AsyncSession,
    *,
    to_number: str,
    body: str,
    purpose: str,
    case_id: uuid.UUID | None = None,
    unit_id: uuid.UUID | None = None,
) -> SmsMessage:
    """Add a queued outbound SMS to the session."""
    message = SmsMessage(
        direction="outbound",
        to_number=to_number,
        body=body[:MAX_BODY],
        purpose=purpose,
        case_id=case_id,
        unit_id=unit_id,
        status="queued",
    )
    db_session.add(message)
    return message
