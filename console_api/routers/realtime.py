"""Real-time endpoints: the WebSocket, and SSE and long-poll for networks where sockets fail.

All three share the hub's subscriptions, so authorisation, filters and resume behave alike.
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
from console_api.deps import IdentitySettingsDep, OptionalClaims
from console_api.observability import LONG_POLLS
from console_api.origins import origin_allowed
from data.errors import Forbidden, InvalidInput, TooManyRequests, Unauthenticated
from dispatch.case_tokens import verify_case_token
from identity.settings import IdentitySettings
from identity.tokens import AccessClaims
from realtime.authority import (
    AUTHORITY_REVOKED,
    TOO_MANY_SOCKETS,
    HeldSocket,
    SocketAuthority,
    TooManySockets,
)
from realtime.authz import Principal, channels_for
from realtime.hub import Close, Hub, Sink, Subscription
from realtime.schemas import (
    AuthMessage,
    ClientMessage,
    EventPage,
    Filters,
    PingMessage,
    SubscribeMessage,
    UnsubscribeMessage,
)
from realtime.streams import CHANNELS, Event, EventBatch

router = APIRouter(tags=["realtime"])

ORIGIN_REJECTED = 4003
UNAUTHENTICATED = 4001
POLL_LIMIT = 1_000
#: How long a long-poll waits for a replay to make progress, whatever ``timeout`` says.
REPLAY_PATIENCE_S = 10.0


def _hub(connection: Request | WebSocket) -> Hub:
    return connection.app.state.realtime_hub


def principal_from_claims(claims: AccessClaims) -> Principal:
    """A signed-in subscriber."""
    return Principal(
        roles=claims.roles,
        user_id=str(claims.user_id),
        hospital_id=str(claims.hospital_id) if claims.hospital_id else None,
    )


def principal_key(principal: Principal) -> str:
    """Whose socket this is, for the per-principal cap."""
    if principal.case_id is not None:
        return f"case:{principal.case_id}"
    return f"user:{principal.user_id}"


def client_address(connection: Request | WebSocket) -> str:
    """The peer address the per-address cap counts."""
    return connection.client.host if connection.client else "unknown"


def principal_from_case_token(case_id: uuid.UUID, case_token: str, *, secret: str) -> Principal:
    """An anonymous reporter, trusted for exactly the case its token was issued for."""
    if not verify_case_token(case_id, case_token, secret=secret):
        raise Unauthenticated("the case token does not match this case", code="invalid_case_token")
    return Principal.for_case(str(case_id))


def _error(code: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail}


def _channel_problem(principal: Principal, channel: str) -> dict[str, Any] | None:
    if channel not in CHANNELS:
        return _error("unknown_channel", f"no channel {channel!r}; one of {', '.join(CHANNELS)}")
    if channel not in channels_for(principal):
        return _error("channel_forbidden", f"you may not subscribe to {channel}")
    return None


def _encode(item: Event | EventBatch | dict[str, Any]) -> str:
    if isinstance(item, Event | EventBatch):
        return item.text
    return json.dumps(item, separators=(",", ":"))


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


class SocketSession:
    """One authenticated socket: reads commands, writes events and heartbeats."""

    def __init__(
        self, websocket: WebSocket, hub: Hub, principal: Principal, *, batch: bool = False,
        held: HeldSocket | None = None,
    ) -> None:
        self.websocket = websocket
        self.hub = hub
        self.principal = principal
        #: This socket's authority, watched by the worker's :class:`SocketAuthority`.
        self.held = held
        #: ``?batch=1``: each frame is a JSON array of every message due, at most one per gap.
        self.batch = batch
        self.sink = hub.open_sink(heartbeats=True, accepts_batches=True)
        self.subscriptions: dict[str, Subscription] = {}

    async def run(self) -> None:
        """Until either side closes."""
        sender = asyncio.create_task(self._send_loop())
        self.sink.sender = sender  # the hub's ticker cancels it if a write stalls
        tasks = [sender, asyncio.create_task(self._receive_loop())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.hub.close_sink(self.sink)

    async def _receive_loop(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self.sink.offer(_error("malformed", "send JSON text frames"))
                continue
            if '"auth"' in text and self.held is not None and self.held.claims is not None:
                await self.reauthenticate(text)
                continue
            self.handle(text)

    async def reauthenticate(self, text: str) -> None:
        """In-band renewal: a fresh token of the same user and authority extends the socket."""
        try:
            message = AuthMessage.model_validate_json(text)
            if not message.token:
                raise Unauthenticated("send a fresh access token", code="auth_required")
            claims = await live_claims(self.websocket, message.token)
        except ValidationError:
            self.handle(text)  # not an auth message after all
            return
        except (Unauthenticated, Forbidden) as exc:
            self.sink.offer(_error(exc.code, exc.detail))
            return
        if principal_from_claims(claims) != self.principal or self.held is None:
            # Other roles or hospital: what this socket subscribed to was decided for the old
            # ones. Reconnect with the new token.
            if self.held is not None:
                self.held.end(AUTHORITY_REVOKED, "authority_changed")
            return
        self.hub_authority.renew(self.held, claims)
        self.sink.offer({"type": "reauthenticated", "expires_at": claims.expires_at})

    @property
    def hub_authority(self) -> SocketAuthority:
        """The worker's socket watch."""
        return self.websocket.app.state.socket_authority

    def handle(self, text: str) -> None:
        """Act on one client message; a bad one gets an error message, never a crash."""
        try:
            message = ClientMessage.validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {}
            where = ".".join(str(p) for p in first.get("loc", ()))
            detail = f"{where}: {first.get('msg', 'invalid message')}" if where else str(
                first.get("msg", "invalid message")
            )
            self.sink.offer(_error("invalid_message", detail))
            return
        if isinstance(message, SubscribeMessage):
            self.subscribe(message)
        elif isinstance(message, UnsubscribeMessage):
            sub = self.subscriptions.pop(message.channel, None)
            if sub is None:
                self.sink.offer(_error("not_subscribed", f"not subscribed to {message.channel}"))
                return
            self.hub.unsubscribe(sub)
            self.sink.offer({"type": "unsubscribed", "channel": message.channel})
        elif isinstance(message, PingMessage):
            self.sink.offer({"type": "pong"})
        else:
            self.sink.offer(_error("already_authenticated", "this socket is authenticated"))

    def subscribe(self, message: SubscribeMessage) -> None:
        """(Re)start a channel, replaying from ``last_seq`` when given."""
        problem = _channel_problem(self.principal, message.channel)
        if problem is not None:
            self.sink.offer(problem)
            return
        previous = self.subscriptions.pop(message.channel, None)
        if previous is not None:
            self.hub.unsubscribe(previous)
        self.subscriptions[message.channel] = self.hub.subscribe(
            self.sink,
            channel=message.channel,
            principal=self.principal,
            filters=message.filters.as_dict(),
            last_seq=message.last_seq,
        )

    async def _send_loop(self) -> None:
        """Write whatever is queued; heartbeats and the stall watch come from the hub's ticker."""
        loop = asyncio.get_running_loop()
        sink = self.sink
        send_text = self.websocket.send_text
        gap = self.hub.settings.ws_batch_gap_ms / 1000 if self.batch else 0.0
        while True:
            items = await sink.take()
            sink.busy_since = loop.time()
            if self.batch:
                closing = next((i for i in items if isinstance(i, Close)), None)
                parts = [_encode(item) for item in items if not isinstance(item, Close)]
                if parts:
                    await send_text("[" + ",".join(parts) + "]")
                if closing is not None:
                    await self.websocket.close(code=closing.code, reason=closing.reason)
                    return
            else:
                for item in items:
                    if isinstance(item, Close):
                        await self.websocket.close(code=item.code, reason=item.reason)
                        return
                    if isinstance(item, EventBatch):
                        for event in item.events:
                            await send_text(event.text)
                    else:
                        await send_text(_encode(item))
            sink.busy_since = None
            if gap:
                await asyncio.sleep(gap)  # what arrives meanwhile goes out in the next frame


@router.websocket("/ws")
async def realtime_socket(websocket: WebSocket) -> None:
    """Subscribe to channels and receive their events, with resume by ``last_seq``."""
    hub = _hub(websocket)
    origin = websocket.headers.get("origin")
    if origin is not None and not origin_allowed(websocket, origin, hub.settings.origins):
        # Before accept: the handshake fails with 403, so a hostile page learns nothing.
        await websocket.close(code=ORIGIN_REJECTED)
        return
    await websocket.accept()
    identity: IdentitySettings = websocket.app.state.identity_settings
    try:
        principal, claims = await _authenticate_socket(
            websocket, identity, hub.settings.auth_timeout_seconds
        )
    except (Unauthenticated, Forbidden) as exc:
        with contextlib.suppress(Exception):
            await websocket.send_text(json.dumps(_error(exc.code, exc.detail)))
            await websocket.close(code=UNAUTHENTICATED, reason=exc.code)
        return
    except WebSocketDisconnect:
        return
    authority: SocketAuthority = websocket.app.state.socket_authority
    batch = websocket.query_params.get("batch", "") in ("1", "true")
    session = SocketSession(websocket, hub, principal, batch=batch)
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
            await websocket.send_text(json.dumps(_error("too_many_sockets", str(exc))))
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
    problem = _channel_problem(principal, channel)
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
    request: Request,
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
    hub = _hub(request)
    sink = Sink(POLL_LIMIT * 2)
    sub = hub.subscribe(
        sink, channel=channel, principal=principal, filters=filters, last_seq=after, ack=False
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    events: list[Event] = []
    try:
        while len(events) < POLL_LIMIT:
            if sub.replaying or sink.items:
                wait = max(deadline - loop.time(), REPLAY_PATIENCE_S)
            elif events:
                break
            else:
                wait = deadline - loop.time()
                if wait <= 0:
                    break
            LONG_POLLS.inc()
            try:
                item = await sink.get(wait)
            finally:
                LONG_POLLS.dec()
            if item is None or isinstance(item, Close):
                break
            if isinstance(item, Event):
                events.append(item)
        caught_up = not sub.replaying and not sink.items and sink.closed is None
        if caught_up or not events:
            last_seq = sub.position if caught_up else (after or 0)
        else:
            last_seq = events[-1].seq
    finally:
        hub.unsubscribe(sub)
    return EventPage(events=[event.message() for event in events], last_seq=last_seq)


@router.get(
    "/api/v1/realtime/sse",
    summary="Server-sent events of one channel; resumes from Last-Event-ID",
    response_class=EventSourceResponse,
)
async def sse_events(
    request: Request,
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
    hub = _hub(request)
    sink = hub.open_sink()
    authority: SocketAuthority = request.app.state.socket_authority
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
                    yield ServerSentEvent(data=_encode(item))
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
