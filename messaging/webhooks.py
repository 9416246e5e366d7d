"""What Twilio tells us: signed webhooks checked, delivery reports recorded, the outbox read."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.request_validator import RequestValidator

from data.errors import Forbidden
from messaging.models import SmsMessage
from messaging.settings import MessagingSettings


def verify_signature(
    *, settings: MessagingSettings, url: str, params: Mapping[str, str], signature: str | None
) -> None:
    """Twilio's signature over the public URL and the form; 403 when it is missing or wrong."""
    if not settings.twilio_auth_token or not signature:
        raise Forbidden("missing or unverifiable Twilio signature", code="bad_signature")
    if not RequestValidator(settings.twilio_auth_token).validate(url, dict(params), signature):
        raise Forbidden("Twilio signature does not match", code="bad_signature")


async def record_delivery_status(*, db_session: AsyncSession, form: Mapping[str, str]) -> None:
    """Delivered or failed, on the message with that sid (an unknown sid is ignored)."""
    message = await db_session.scalar(
        select(SmsMessage).where(SmsMessage.provider_sid == form.get("MessageSid"))
    )
    if message is not None and form.get("MessageStatus"):
        message.status = form["MessageStatus"][:16]
        if form.get("ErrorCode"):
            message.last_error = f"Twilio error {form['ErrorCode']}"
        await db_session.commit()


async def sent_messages(
    *, db_session: AsyncSession, case_id: uuid.UUID | None, limit: int
) -> list[SmsMessage]:
    """Newest first, of one case or of all."""
    query = select(SmsMessage).order_by(SmsMessage.created_at.desc()).limit(limit)
    if case_id is not None:
        query = query.where(SmsMessage.case_id == case_id)
    return list((await db_session.execute(query)).scalars())
