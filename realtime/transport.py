"""The transports' shared machinery: a WebSocket session, the long-poll, and what they send.

Framework-free, so it lives beside the hub: a socket is anything with ``receive``, ``send_text``
and ``close`` (Starlette's WebSocket is one), and the token check is handed in by the web
layer (:func:`console_api.access.live_claims`), which keeps routing and the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pydantic import ValidationError

from data.errors import Forbidden, Unauthenticated
from identity.tokens import AccessClaims
from realtime.authority import AUTHORITY_REVOKED, HeldSocket, SocketAuthority
from realtime.authz import Principal, channels_for
from realtime.hub import Close, Hub, Sink, Subscription
from realtime.schemas import (
    AuthMessage,
    ClientMessage,
    EventPage,
    PingMessage,
    SubscribeMessage,
    UnsubscribeMessage,
)
from realtime.streams import CHANNELS, Event, EventBatch

POLL_LIMIT = 1_000
#: How long a long-poll waits for a replay to make progress, whatever ``timeout`` says.
REPLAY_PATIENCE_S = 10.0

TokenCheck = Callable[[str], Awaitable[AccessClaims]]


class Socket(Protocol):
    """What a session needs of a WebSocket."""

    async def receive(self) -> Any: ...
    async def send_text(self, data: str) -> None: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Waiting(Protocol):
    """A gauge of parked polls (the web layer's Prometheus gauge)."""

    def inc(self) -> None: ...
    def dec(self) -> None: ...


class _NotCounted:
    def inc(self) -> None:
        pass

    def dec(self) -> None:
        pass


_NOT_COUNTED = _NotCounted()


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


def error_message(code: str, detail: str) -> dict[str, Any]:
    """The one error shape every transport sends."""
    return {"type": "error", "code": code, "detail": detail}


def channel_problem(principal: Principal, channel: str) -> dict[str, Any] | None:
    """Why the principal may not subscribe to ``channel`` (None: they may)."""
    if channel not in CHANNELS:
        return error_message(
            "unknown_channel", f"no channel {channel!r}; one of {', '.join(CHANNELS)}"
        )
    if channel not in channels_for(principal):
        return error_message("channel_forbidden", f"you may not subscribe to {channel}")
    return None


def encode(item: Event | EventBatch | dict[str, Any]) -> str:
    """One queued item as the text of a frame."""
    if isinstance(item, Event | EventBatch):
        return item.text
    return json.dumps(item, separators=(",", ":"))


class SocketSession:
    """One authenticated socket: reads commands, writes events and heartbeats."""

    def __init__(
        self, websocket: Socket, hub: Hub, principal: Principal, *, authority: SocketAuthority,
        verify_token: TokenCheck, batch: bool = False, held: HeldSocket | None = None,
    ) -> None:
        self.websocket = websocket
        #: The worker's socket watch, which renews this socket's authority.
        self.hub_authority = authority
        #: The same checks as HTTP for an in-band token (signature, second factor, revocation).
        self.verify_token = verify_token
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
                self.sink.offer(error_message("malformed", "send JSON text frames"))
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
            claims = await self.verify_token(message.token)
        except ValidationError:
            self.handle(text)  # not an auth message after all
            return
        except (Unauthenticated, Forbidden) as exc:
            self.sink.offer(error_message(exc.code, exc.detail))
            return
        if principal_from_claims(claims) != self.principal or self.held is None:
            # Other roles or hospital: what this socket subscribed to was decided for the old
            # ones. Reconnect with the new token.
            if self.held is not None:
                self.held.end(AUTHORITY_REVOKED, "authority_changed")
            return
        self.hub_authority.renew(self.held, claims)
        self.sink.offer({"type": "reauthenticated", "expires_at": claims.expires_at})

    def handle(self, text: str) -> None:
        """Act on one client message; a bad one gets an error message, never a crash."""
        try:
            message = ClientMessage.validate_json(text)
        except ValidationError as exc:
            errors = exc.errors()
            first: dict[str, Any] = dict(errors[0]) if errors else {}
            where = ".".join(str(p) for p in first.get("loc", ()))
            detail = f"{where}: {first.get('msg', 'invalid message')}" if where else str(
                first.get("msg", "invalid message")
            )
            self.sink.offer(error_message("invalid_message", detail))
            return
        if isinstance(message, SubscribeMessage):
            self.subscribe(message)
        elif isinstance(message, UnsubscribeMessage):
            sub = self.subscriptions.pop(message.channel, None)
            if sub is None:
                self.sink.offer(
                    error_message("not_subscribed", f"not subscribed to {message.channel}")
                )
                return
            self.hub.unsubscribe(sub)
            self.sink.offer({"type": "unsubscribed", "channel": message.channel})
        elif isinstance(message, PingMessage):
            self.sink.offer({"type": "pong"})
        else:
            self.sink.offer(error_message("already_authenticated", "this socket is authenticated"))

    def subscribe(self, message: SubscribeMessage) -> None:
        """(Re)start a channel, replaying from ``last_seq`` when given."""
        problem = channel_problem(self.principal, message.channel)
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
                parts = [encode(item) for item in items if not isinstance(item, Close)]
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
                        await send_text(encode(item))
            sink.busy_since = None
            if gap:
                await asyncio.sleep(gap)  # what arrives meanwhile goes out in the next frame


async def long_poll(
    hub: Hub, *, channel: str, principal: Principal, filters: dict[str, str], after: int | None,
    timeout: float, waiting: Waiting = _NOT_COUNTED,
) -> EventPage:
    """Events after ``after``: at once when some exist, else the first within ``timeout`` s;
    ``last_seq`` is the next ``after``. ``waiting`` counts polls parked on an empty channel."""
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
            waiting.inc()
            try:
                item = await sink.get(wait)
            finally:
                waiting.dec()
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
