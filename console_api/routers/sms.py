"""Twilio webhooks (signature-verified) and the operators' view of sent messages."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from fastapi import APIRouter, Header, Query, Request, Response

from console_api.deps import CurrentClaims, MessagingSettingsDep, SessionDep
from console_api.responses import XML_TEXT
from dispatch import crew
from messaging import webhooks
from messaging.schemas import SmsView
from messaging.settings import MessagingSettings

router = APIRouter(prefix="/api/v1/sms", tags=["sms"])

SignatureHeader = Annotated[str | None, Header(alias="X-Twilio-Signature")]


async def verified_form(
    request: Request, signature: str | None, settings: MessagingSettings
) -> dict[str, str]:
    """The webhook's form fields, after checking Twilio's signature over the public URL."""
    params = dict(
        parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    )
    url = settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    webhooks.verify_signature(settings=settings, url=url, params=params, signature=signature)
    return params


def twiml(message: str | None) -> Response:
    """A TwiML reply (Twilio texts ``message`` back to the sender)."""
    inner = f"<Message>{escape(message)}</Message>" if message else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>',
        media_type="application/xml",
    )


@router.post("/inbound", response_class=Response, responses={200: XML_TEXT},
             summary="Twilio inbound SMS webhook (crew replies)")
async def inbound(
    request: Request,
    db_session: SessionDep,
    settings: MessagingSettingsDep,
    x_twilio_signature: SignatureHeader = None,
) -> Response:
    """A crew member texts ``<code> <digit>``; the status lands in the case timeline."""
    form = await verified_form(request, x_twilio_signature, settings)
    reply = await crew.apply_sms_reply(
        db_session=db_session,
        from_number=form.get("From", ""),
        body=form.get("Body", ""),
        provider_sid=form.get("MessageSid"),
    )
    return twiml(reply)


@router.post("/status", response_class=Response, responses={200: XML_TEXT},
             summary="Twilio delivery-status webhook")
async def delivery_status(
    request: Request,
    db_session: SessionDep,
    settings: MessagingSettingsDep,
    x_twilio_signature: SignatureHeader = None,
) -> Response:
    """Record delivered/failed for the message with that sid."""
    form = await verified_form(request, x_twilio_signature, settings)
    await webhooks.record_delivery_status(db_session=db_session, form=form)
    return twiml(None)


@router.get("/outbox", response_model=list[SmsView],
            summary="Messages sent (or kept locally) for a case")
async def outbox(
    db_session: SessionDep,
    _: CurrentClaims,
    case_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SmsView]:
    """Newest first; without Twilio this is where crew links can be read (``make run``)."""
    messages = await webhooks.sent_messages(db_session=db_session, case_id=case_id, limit=limit)
    return [SmsView.of(m) for m in messages]
