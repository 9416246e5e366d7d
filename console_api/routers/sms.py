"""Twilio webhooks (signature-verified) and the operators' view of sent messages."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from console_api.deps import CurrentClaims, SessionDep
from data.errors import Forbidden
from dispatch import crew
from messaging.models import SmsMessage
from messaging.settings import MessagingSettings

router = APIRouter(prefix="/api/v1/sms", tags=["sms"])

SignatureHeader = Annotated[str | None, Header(alias="X-Twilio-Signature")]


async def verified_form(
    request: Request, signature: str | None, settings: MessagingSettings
) -> dict[str, str]:
    """The webhook's form fields, after checking Twilio's signature over the public URL."""
    if not settings.twilio_auth_token or not signature:
        raise Forbidden("missing or unverifiable Twilio signature", code="bad_signature")
    params = dict(
        parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    )
    url = settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not RequestValidator(settings.twilio_auth_token).validate(url, params, signature):
        raise Forbidden("Twilio signature does not match", code="bad_signature")
    return params


def twiml(message: str | None) -> Response:
    """A TwiML reply (Twilio texts ``message`` back to the sender)."""
    inner = f"<Message>{escape(message)}</Message>" if message else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>',
        media_type="application/xml",
    )


@router.post("/inbound", summary="Twilio inbound SMS webhook (crew replies)")
async def inbound(
    request: Request,
    db_session: SessionDep,
    x_twilio_signature: SignatureHeader = None,
) -> Response:
    """A crew member texts ``<code> <digit>``; the status lands in the case timeline."""
    form = await verified_form(request, x_twilio_signature, request.app.state.messaging_settings)
    reply = await crew.apply_sms_reply(
        db_session=db_session,
        from_number=form.get("From", ""),
        body=form.get("Body", ""),
        provider_sid=form.get("MessageSid"),
    )
    return twiml(reply)


@router.post("/status", summary="Twilio delivery-status webhook")
async def delivery_status(
    request: Request,
    db_session: SessionDep,
    x_twilio_signature: SignatureHeader = None,
) -> Response:
    """Record delivered/failed for the message with that sid."""
    form = await verified_form(request, x_twilio_signature, request.app.state.messaging_settings)
    message = await db_session.scalar(
        select(SmsMessage).where(SmsMessage.provider_sid == form.get("MessageSid"))
    )
    if message is not None and form.get("MessageStatus"):
        message.status = form["MessageStatus"][:16]
        if form.get("ErrorCode"):
            message.last_error = f"Twilio error {form['ErrorCode']}"
        await db_session.commit()
    return twiml(None)


@router.get("/outbox", summary="Messages sent (or kept locally) for a case")
async def outbox(
    db_session: SessionDep,
    _: CurrentClaims,
    case_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Newest first; without Twilio this is where crew links can be read (``make run``)."""
    query = select(SmsMessage).order_by(SmsMessage.created_at.desc()).limit(limit)
    if case_id is not None:
        query = query.where(SmsMessage.case_id == case_id)
    return [
        {
            "id": str(m.id), "direction": m.direction,
            "case_id": str(m.case_id) if m.case_id else None,
            "unit_id": str(m.unit_id) if m.unit_id else None, "purpose": m.purpose,
            "to": m.to_number, "from": m.from_number, "body": m.body, "status": m.status,
            "attempts": m.attempts, "last_error": m.last_error, "provider_sid": m.provider_sid,
            "created_at": m.created_at.isoformat(),
        }
        for m in (await db_session.execute(query)).scalars()
    ]
