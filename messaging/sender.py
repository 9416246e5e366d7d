"""Deliver queued messages with retries and back-off; failures are surfaced, never silent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from data.base import utcnow
from messaging.models import SmsMessage
from messaging.settings import MessagingSettings
from messaging.transport import SendFailed, SmsTransport

log = logging.getLogger(__name__)

#: A message left "sending" this long (its worker died) is picked up again.
SENDING_TIMEOUT = timedelta(minutes=2)

FailureHook = Callable[[AsyncSession, SmsMessage], Awaitable[None]]


async def _claim_due(db_session: AsyncSession, limit: int) -> list[SmsMessage]:
    now = utcnow()
    rows = (
        await db_session.execute(
            select(SmsMessage)
            .where(
                SmsMessage.direction == "outbound",
                or_(
                    (SmsMessage.status == "queued") & (SmsMessage.next_attempt_at <= now),
                    (SmsMessage.status == "sending")
                    & (SmsMessage.updated_at < now - SENDING_TIMEOUT),
                ),
            )
            .order_by(SmsMessage.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    claimed = list(rows)
    for message in claimed:
        message.status = "sending"
        message.attempts += 1
        message.updated_at = now
    await db_session.commit()
    return claimed


async def deliver_due(
    session_factory: async_sessionmaker[AsyncSession],
    transport: SmsTransport,
    settings: MessagingSettings,
    *,
    on_failure: FailureHook | None = None,
    limit: int = 20,
) -> int:
    """Send what is due once; returns how many messages were attempted."""
    async with session_factory() as session:
        claimed = await _claim_due(session, limit)
    callback = f"{settings.public_base_url.rstrip('/')}/api/v1/sms/status"
    for message in claimed:
        try:
            result = await asyncio.to_thread(
                transport.send, to=message.to_number, body=message.body, status_callback=callback
            )
        except SendFailed as exc:
            await _failed(session_factory, message, str(exc), exc.permanent, settings, on_failure)
            continue
        async with session_factory() as session:
            row = await session.get(SmsMessage, message.id)
            row.status = result.status if result.status != "queued" else "sent"
            row.provider_sid = result.provider_sid
            row.last_error = None
            row.next_attempt_at = None
            await session.commit()
    return len(claimed)


async def _failed(
    session_factory: async_sessionmaker[AsyncSession],
    message: SmsMessage,
    error: str,
    permanent: bool,
    settings: MessagingSettings,
    on_failure: FailureHook | None,
) -> None:
    async with session_factory() as session:
        row = await session.get(SmsMessage, message.id)
        row.last_error = error[:2000]
        if permanent or row.attempts >= settings.max_attempts:
            row.status = "failed"
            row.next_attempt_at = None
            if on_failure is not None:
                await on_failure(session, row)
        else:
            row.status = "queued"
            delay = min(settings.retry_base_seconds * 2 ** (row.attempts - 1), 300)
            row.next_attempt_at = utcnow() + timedelta(seconds=delay)
        await session.commit()
    # The message id finds the number in the outbox; phone numbers never go to the logs.
    log.warning("SMS %s failed (attempt %d): %s", message.id, message.attempts, error)


async def run_sender(
    session_factory: async_sessionmaker[AsyncSession],
    transport: SmsTransport,
    settings: MessagingSettings,
    *,
    on_failure: FailureHook | None = None,
) -> None:
    """Background loop of each worker (SKIP LOCKED keeps workers from sending twice)."""
    while True:
        try:
            sent = await deliver_due(session_factory, transport, settings, on_failure=on_failure)
        except Exception:  # keep the loop alive through database hiccups
            log.exception("SMS delivery round failed")
            sent = 0
        if not sent:
            await asyncio.sleep(settings.poll_seconds)
