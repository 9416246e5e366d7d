"""Real-time endpoints: the WebSocket, and SSE and long-poll for networks where sockets fail.

All three share the hub's subscriptions, so authorisation, filters and resume behave alike.
This is the web layer only (routes, handshake, origin and token checks); the sessions and the
long-poll are :mod:`realtime.transport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, WebSocket
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask
from starlette.websockets import WebSocketDisconnect, WebSocketState

from console_api.access import live_claims
from console_api.deps import HubDep, IdentitySettingsDep, OptionalClaims, SocketAuthorityDep
from console_api.observability import LONG_POLLS
from console_api.origins import origin_allowed
from data.errors import Forbidden, InvalidInput, TooManyRequests, Unauthenticated
from dispatch.case_tokens import verify_case_token
from identity.settings import IdentitySettings
from identity.tokens import AccessClaims
from realtime.authority import (
    TOO_MANY_SOCKETS,
    HeldSocket,
    TooManySockets,
)
from realtime.authz import Principal, channels_for
from realtime.hub import Close
from realtime.schemas import (
    AuthMessage,
    EventPage,
    Filters,
)
from realtime.streams import Event
from realtime.transport import (
    SocketSession,
    channel_problem,
    encode,
    error_message,
    long_poll,
    principal_from_claims,
    principal_key,
)

router = APIRouter(tags=["realtime"])

ORIGIN_REJECTED = 4003
UNAUTHENTICATED = 4001

def client_address(connection: Request | WebSocket) -> str:
    """The peer address the per-address cap counts."""
    return connection.client.host if connection.client else "unknown"


def principal_from_case_token(case_id: uuid.UUID, case_token: str, *, secret: str) -> Principal:
    """An anonymous reporter, trusted for exactly the case its token was issued for."""
    if not verify_case_token(case_id, case_token, secret=secret):
        raise Unauthenticated("the case token does not match this case", code="invalid_case_token")
    return Principal.for_case(str(case_id))


# --------------------------------------------------------------------------- WebSocket


async def _authenticate_socket(
    websocket: WebSocket, identity: IdentitySettings, timeout: float
) -> tuple[Principal, AccessClaims | None]:
    token = websocket.query_params.get("token")
    if token:
        claims = await live_claims(websocket, token)
        return principal_from_claims(claims), claims
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), timeout)
    except TimeoutError:
        raise Unauthenticated("send an auth message first", code="auth_timeout") from None
    except KeyError:  # a binary frame
        raise Unauthenticated("the auth message must be JSON text", code="malformed") from None
    try:
        message = AuthMessage.model_validate_json(raw)
    except ValidationError as exc:
        raise Unauthenticated(
            'the first message must be {"type": "auth", "token": ...} or a case and its token',
            code="auth_required",
        ) from exc
    if message.token:
        claims = await live_claims(websocket, message.token)
        return principal_from_claims(claims), claims
    if message.case_id is not None and message.case_token:
        principal = principal_from_case_token(
            message.case_id, message.case_token, secret=identity.secret_key
        )
        return principal, None
    raise Unauthenticated(
        "a token, or a case_id with its case_token, is required", code="auth_required"
    )


@router.websocket("/ws")
async def realtime_socket(
    websocket: WebSocket, hub: HubDep, authority: SocketAuthorityDep,
    identity: IdentitySettingsDep,
) -> None:
    """Subscribe to channels and receive their events, with resume by ``last_seq``."""
    origin = websocket.headers.get("origin")
    if origin is not None and not origin_allowed(websocket, origin, hub.settings.origins):
        # Before accept: the handshake fails with 403, so a hostile page learns nothing.
        await websocket.close(code=ORIGIN_REJECTED)
        return
    await websocket.accept()
    try:
        principal, claims = await _authenticate_socket(
            websocket, identity, hub.settings.auth_timeout_seconds
        )
    except (Unauthenticated, Forbidden) as exc:
        with contextlib.suppress(Exception):
            await websocket.send_text(json.dumps(error_message(exc.code, exc.detail)))
            await websocket.close(code=UNAUTHENTICATED, reason=exc.code)
        return
    except WebSocketDisconnect:
        return
    batch = websocket.query_params.get("batch", "") in ("1", "true")
    session = SocketSession(
        websocket, hub, principal, authority=authority, batch=batch,
        verify_token=lambda token: live_claims(websocket, token),
    )
    held = HeldSocket(
        principal=principal_key(principal),
        address=client_address(websocket),
        close=session.sink.close,
        notify=session.sink.offer,
        claims=claims,
    )
    try:
        authority.admit(held)
    except TooManySockets as exc:
        hub.close_sink(session.sink)
        with contextlib.suppress(Exception):
            await websocket.send_text(json.dumps(error_message("too_many_sockets", str(exc))))
            await websocket.close(code=TOO_MANY_SOCKETS, reason="too_many_sockets")
        return
    session.held = held
    try:
        welcome: dict[str, Any] = {
            "type": "welcome",
            "channels": sorted(channels_for(principal)),
            "heartbeat_s": hub.settings.heartbeat_seconds,
        }
        if claims is not None:
            welcome["expires_at"] = claims.expires_at
        await websocket.send_text(json.dumps(welcome))
        await session.run()
    finally:
        authority.release(held)
        hub.close_sink(session.sink)
        if websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()


# --------------------------------------------------------------------------- HTTP fallbacks


def _http_principal(
    claims: AccessClaims | None,
    *,
    case_id: uuid.UUID | None,
    case_token: str | None,
    identity: IdentitySettings,
) -> Principal:
    if claims is not None:
        return principal_from_claims(claims)
    if case_token is not None:
        if case_id is None:
            raise InvalidInput("case_id is required with X-Case-Token", field="case_id")
        return principal_from_case_token(case_id, case_token, secret=identity.secret_key)
    raise Unauthenticated(
        "send a bearer token, or X-Case-Token with case_id", code="missing_token"
    )


def _checked_channel(principal: Principal, channel: str) -> str:
    problem = channel_problem(principal, channel)
    if problem is None:
        return channel
    if problem["code"] == "unknown_channel":
        raise InvalidInput(problem["detail"], field="channel", code="unknown_channel")
    raise Forbidden(problem["detail"], code="channel_forbidden")


def _filters(
    hospital_id: uuid.UUID | None, case_id: uuid.UUID | None, region: str | None
) -> dict[str, str]:
    return Filters(hospital_id=hospital_id, case_id=case_id, region=region).as_dict()


ChannelQuery = Annotated[str, Query(max_length=64, description="one of the real-time channels")]
CaseIdQuery = Annotated[
    uuid.UUID | None, Query(description="with X-Case-Token: the case; for staff: a filter")
]
CaseTokenHeader = Annotated[str | None, Header(alias="X-Case-Token")]
HospitalQuery = Annotated[uuid.UUID | None, Query(description="only events of this hospital")]
RegionQuery = Annotated[str | None, Query(max_length=64, description="only this region")]


@router.get(
    "/api/v1/realtime/events",
    response_model=EventPage,
    summary="Long-poll: events after a seq, waiting up to `timeout` s for new ones",
)
async def poll_events(
    hub: HubDep,
    identity: IdentitySettingsDep,
    claims: OptionalClaims,
    channel: ChannelQuery,
    after: Annotated[int | None, Query(ge=0, description="last seq already seen")] = None,
    timeout: Annotated[float, Query(ge=0, le=60)] = 25.0,
    case_id: CaseIdQuery = None,
    hospital_id: HospitalQuery = None,
    region: RegionQuery = None,
    x_case_token: CaseTokenHeader = None,
) -> EventPage:
    """Returns at once when events after ``after`` exist; ``last_seq`` is the next ``after``."""
    principal = _http_principal(
        claims, case_id=case_id, case_token=x_case_token, identity=identity
    )
    _checked_channel(principal, channel)
    filters = _filters(hospital_id, case_id if principal.case_id is None else None, region)
    return await long_poll(
        hub, channel=channel, principal=principal, filters=filters, after=after,
        timeout=timeout, waiting=LONG_POLLS,
    )


@router.get(
    "/api/v1/realtime/sse",
    summary="Server-sent events of one channel; resumes from Last-Event-ID",
    response_class=EventSourceResponse,
)
async def sse_events(
    request: Request,
    hub: HubDep,
    authority: SocketAuthorityDep,
    identity: IdentitySettingsDep,
    claims: OptionalClaims,
    channel: ChannelQuery,
    last_seq: Annotated[int | None, Query(ge=0, description="resume after this seq")] = None,
    token: Annotated[
        str | None, Query(description="access token, for EventSource which cannot send headers")
    ] = None,
    case_id: CaseIdQuery = None,
    hospital_id: HospitalQuery = None,
    region: RegionQuery = None,
    x_case_token: CaseTokenHeader = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """``id:`` is the event's seq, so a reconnecting EventSource resumes by itself. The stream
    ends when its token expires or is revoked (the page reconnects with a fresh one)."""
    if claims is None and token:
        # The same checks as a bearer header: signature, second factor, revocation.
        claims = await live_claims(request, token)
    principal = _http_principal(
        claims, case_id=case_id, case_token=x_case_token, identity=identity
    )
    _checked_channel(principal, channel)
    if last_event_id is not None and last_event_id.strip():
        if not last_event_id.strip().isdigit():
            raise InvalidInput("Last-Event-ID must be a seq number", field="Last-Event-ID")
        last_seq = int(last_event_id.strip())
    filters = _filters(hospital_id, case_id if principal.case_id is None else None, region)
    sink = hub.open_sink()
    held = HeldSocket(
        principal=principal_key(principal), address=client_address(request),
        close=sink.close, notify=lambda _message: None, claims=claims,
    )
    try:
        authority.admit(held)
    except TooManySockets as exc:
        hub.close_sink(sink)
        raise TooManyRequests(str(exc), retry_after_s=10, code="too_many_sockets") from None
    sub = hub.subscribe(
        sink, channel=channel, principal=principal, filters=filters, last_seq=last_seq, ack=False
    )
    interval = hub.settings.heartbeat_seconds

    async def stream():  # an async generator of SSE frames
        try:
            yield ServerSentEvent(comment=f"subscribed {channel} seq={sub.position}", retry=2000)
            while True:
                item = await sink.get(interval)
                if item is None:
                    yield ServerSentEvent(comment=f"heartbeat seq={sub.position}")
                elif isinstance(item, Close):
                    return  # the browser reconnects with Last-Event-ID
                elif isinstance(item, Event):
                    yield ServerSentEvent(data=item.text, id=str(item.seq))
                else:
                    yield ServerSentEvent(data=encode(item))
        finally:
            authority.release(held)
            hub.close_sink(sink)

    def release() -> None:  # also when the stream never started (client gone at once)
        authority.release(held)
        hub.close_sink(sink)

    return EventSourceResponse(
        stream(),
        background=BackgroundTask(release),
        ping=3600,  # our own heartbeats carry the seq
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
