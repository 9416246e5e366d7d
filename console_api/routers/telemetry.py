"""The vehicles' GPS socket: fixes stream in over one connection, acknowledged in batches.

An HTTP request per fix costs a worker milliseconds (parsing, middleware, auth, its own database
and Redis round trips); a fleet reporting thousands of fixes a second needs a connection that
authenticates once, and an ingest that stores fixes in batches (:mod:`dispatch.position_ingest`).
The vehicle authenticates with its crew link token (its unit only) or a dispatcher's or AVL
gateway's access token (``unit.position``: any unit). Acks are cumulative: ``{"type": "ack",
"n": N}`` means every fix up to ``n`` of this socket was stored or refused with a ``nack``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocketDisconnect, WebSocketState

from console_api.access import live_claims
from console_api.deps import (
    IdentitySettingsDep,
    PositionIngestDep,
    SessionFactoryDep,
    SocketAuthorityDep,
)
from data.errors import Forbidden, LifelineError, Unauthenticated
from dispatch import crew
from dispatch.crew_tokens import CrewClaims, verify_crew_token
from dispatch.position_ingest import Fix, FixResult, PositionIngest
from dispatch.schemas import PositionPing
from identity.roles import allowed
from identity.settings import IdentitySettings
from identity.tokens import AccessClaims
from realtime.authority import (
    AUTHORITY_REVOKED,
    TOO_MANY_SOCKETS,
    HeldSocket,
    SocketAuthority,
    TooManySockets,
)

router = APIRouter(tags=["realtime"])

UNAUTHENTICATED = 4001
AUTH_TIMEOUT_S = 10.0
#: A vehicle reports about once a second; ten a second per unit is the ceiling (as over HTTP).
FIXES_PER_UNIT_PER_S = 10


class TelemetryAuth(BaseModel):
    """First message when no ``?token=`` was given."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["auth"]
    token: str | None = None
    crew_token: str | None = None


class FixMessage(PositionPing):
    """The HTTP ping's fields, plus its unit and ``n`` (numbers the socket's fixes for acks)."""

    type: Literal["fix"]
    n: int = Field(ge=0)
    unit_id: uuid.UUID


class FixBatch(BaseModel):
    """Fixes buffered while the vehicle was offline, sent together."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["fixes"]
    fixes: list[FixMessage] = Field(max_length=500)


Incoming = TypeAdapter(Annotated[FixMessage | FixBatch, Field(discriminator="type")])


@dataclass(frozen=True)
class Reporter:
    """Who may report for which units: one unit (crew token) or all (``unit.position``)."""

    unit_id: uuid.UUID | None
    #: An access token's claims (expiry and revocation are watched), or None for a crew link.
    claims: AccessClaims | None = None
    #: A crew link's claims: its dispatch must stay live for the socket to stay open.
    crew: CrewClaims | None = None

    def may_report(self, unit_id: uuid.UUID) -> bool:
        return self.unit_id is None or self.unit_id == unit_id

    @property
    def principal(self) -> str:
        """Whose socket this is, for the per-principal cap."""
        if self.crew is not None:
            return f"crew:{self.crew.dispatch_id}"
        return f"user:{self.claims.user_id if self.claims else None}"


async def _staff_reporter(websocket: WebSocket, token: str) -> Reporter:
    claims = await live_claims(websocket, token)
    if not allowed(set(claims.roles), "unit.position"):
        raise Unauthenticated("your roles may not report unit positions", code="role_forbidden")
    return Reporter(None, claims=claims)


async def _crew_live(sessions: async_sessionmaker[AsyncSession], claims: CrewClaims) -> bool:
    async with sessions() as session:
        return await crew.dispatch_is_live(db_session=session, claims=claims)


async def _reporter(
    websocket: WebSocket, identity: IdentitySettings, sessions: async_sessionmaker[AsyncSession],
    *, token: str | None, crew_token: str | None,
) -> Reporter:
    if token:
        return await _staff_reporter(websocket, token)
    if crew_token:
        try:
            claims = verify_crew_token(crew_token, secret=identity.secret_key)
        except LifelineError as exc:
            raise Unauthenticated(exc.detail, code="invalid_crew_token") from exc
        if not await _crew_live(sessions, claims):
            raise Unauthenticated("this case is over; the crew link has expired",
                                  code="crew_token_expired")
        return Reporter(claims.unit_id, crew=claims)
    raise Unauthenticated("a token or a crew_token is required", code="auth_required")


async def _authenticate(
    websocket: WebSocket, identity: IdentitySettings, sessions: async_sessionmaker[AsyncSession]
) -> Reporter:
    token = websocket.query_params.get("token")
    if token:
        return await _reporter(websocket, identity, sessions, token=token, crew_token=None)
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
        message = TelemetryAuth.model_validate_json(raw)
    except TimeoutError:
        raise Unauthenticated("send an auth message first", code="auth_timeout") from None
    except (KeyError, ValidationError):
        raise Unauthenticated(
            'the first message must be {"type": "auth", "token" or "crew_token": ...}',
            code="auth_required",
        ) from None
    return await _reporter(
        websocket, identity, sessions, token=message.token, crew_token=message.crew_token
    )


@dataclass
class UnitBudget:
    """Fixes per unit per second on this socket (a fixed one-second window)."""

    limit: int
    windows: dict[uuid.UUID, tuple[int, int]] = field(default_factory=dict)

    def take(self, unit_id: uuid.UUID, now: float) -> bool:
        second = int(now)
        start, used = self.windows.get(unit_id, (second, 0))
        if start != second:
            start, used = second, 0
        self.windows[unit_id] = (start, used + 1)
        return used < self.limit


class TelemetrySession:
    """Reads fixes, hands them to the ingest, and writes acks as batches are stored."""

    def __init__(
        self, websocket: WebSocket, ingest: PositionIngest, reporter: Reporter, *,
        authority: SocketAuthority,
    ) -> None:
        self.held: HeldSocket | None = None
        self.authority = authority
        self.websocket = websocket
        self.ingest = ingest
        self.reporter = reporter
        self.budget = UnitBudget(FIXES_PER_UNIT_PER_S)
        self.outbox: list[dict[str, Any]] = []
        self.acked = -1
        self.seen = -1
        self.in_flight: dict[int, asyncio.Future[FixResult]] = {}
        self._wake = asyncio.Event()

    async def run(self) -> None:
        sender = asyncio.create_task(self._send_loop())
        try:
            while True:
                raw = await self.websocket.receive_text()
                if '"auth"' in raw and self.reporter.claims is not None:
                    await self._reauthenticate(raw)
                    continue
                self._handle(raw)
        except (WebSocketDisconnect, KeyError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _reauthenticate(self, raw: str) -> None:
        """A fresh access token of the same user keeps the socket open past the old expiry."""
        try:
            message = TelemetryAuth.model_validate_json(raw)
            if not message.token:
                raise Unauthenticated("send a fresh access token", code="auth_required")
            fresh = await _staff_reporter(self.websocket, message.token)
        except ValidationError:
            self._handle(raw)
            return
        except (Unauthenticated, Forbidden) as exc:
            self._queue({"type": "error", "code": exc.code, "detail": exc.detail})
            return
        old = self.reporter.claims
        if self.held is None or fresh.claims is None or old is None or (
            fresh.claims.user_id != old.user_id
        ):
            if self.held is not None:
                self.held.end(AUTHORITY_REVOKED, "authority_changed")
            return
        self.reporter = fresh
        self.authority.renew(self.held, fresh.claims)
        self._queue({"type": "reauthenticated", "expires_at": fresh.claims.expires_at})

    def _handle(self, raw: str) -> None:
        try:
            message = Incoming.validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            self._queue({"type": "error", "code": "invalid_fix",
                         "detail": f"{where}: {first['msg']}"})
            return
        for fix in message.fixes if isinstance(message, FixBatch) else [message]:
            self._take(fix)

    def _take(self, message: FixMessage) -> None:
        n = message.n
        self.seen = max(self.seen, n)
        if not self.reporter.may_report(message.unit_id):
            self._nack(n, "unit_forbidden", "this crew token reports for another unit")
        elif not self.budget.take(message.unit_id, time.monotonic()):
            self._nack(n, "rate_limited", f"at most {FIXES_PER_UNIT_PER_S} fixes/s per unit")
        else:
            try:
                future = self.ingest.submit(Fix.of(message.unit_id, message))
            except LifelineError as exc:
                self._nack(n, exc.code, exc.detail)
                return
            self.in_flight[n] = future
            future.add_done_callback(lambda f, n=n: self._stored(n, f))

    def _stored(self, n: int, future: asyncio.Future[FixResult]) -> None:
        self.in_flight.pop(n, None)
        if not future.cancelled() and (exc := future.exception()) is not None:
            code = exc.code if isinstance(exc, LifelineError) else "failed"
            self._nack(n, code, str(exc))
        self._wake.set()

    def _nack(self, n: int, code: str, detail: str) -> None:
        self._queue({"type": "nack", "n": n, "code": code, "detail": detail})

    def _queue(self, message: dict[str, Any]) -> None:
        self.outbox.append(message)
        self._wake.set()

    def _ack_point(self) -> int | None:
        """The highest n such that every fix up to it has been stored or refused."""
        point = min(self.in_flight) - 1 if self.in_flight else self.seen
        return point if point > self.acked else None

    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            messages, self.outbox = self.outbox, []
            point = self._ack_point()
            if point is not None:
                self.acked = point
                messages.append({"type": "ack", "n": point})
            if messages:
                # One frame per wake: an object, or an array when several are due.
                body = messages[0] if len(messages) == 1 else messages
                await self.websocket.send_text(json.dumps(body, separators=(",", ":")))


@router.websocket("/ws/telemetry")
async def telemetry_socket(
    websocket: WebSocket, identity: IdentitySettingsDep, ingest: PositionIngestDep,
    authority: SocketAuthorityDep, sessions: SessionFactoryDep,
) -> None:
    """GPS fixes from vehicles (or an AVL gateway) over one connection, acked in batches."""
    await websocket.accept()
    try:
        reporter = await _authenticate(websocket, identity, sessions)
    except (Unauthenticated, Forbidden) as exc:
        await _refuse(websocket, exc.code, exc.detail, UNAUTHENTICATED)
        return
    except WebSocketDisconnect:
        return
    session = TelemetrySession(websocket, ingest, reporter, authority=authority)
    loop = asyncio.get_running_loop()

    def close(code: int, reason: str) -> None:
        loop.create_task(_refuse(websocket, reason, "this socket's authority ended", code))

    crew_claims = reporter.crew
    held = HeldSocket(
        principal=reporter.principal,
        address=websocket.client.host if websocket.client else "unknown",
        close=close,
        notify=session._queue,
        claims=reporter.claims,
        capability=crew_claims,
    )
    try:
        authority.admit(held)
    except TooManySockets as exc:
        await _refuse(websocket, "too_many_sockets", str(exc), TOO_MANY_SOCKETS)
        return
    session.held = held
    await websocket.send_text('{"type":"ready"}')
    try:
        await session.run()
    finally:
        authority.release(held)
        if websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()


async def _refuse(websocket: WebSocket, code: str, detail: str, close_code: int) -> None:
    """Say why, then close with ``close_code``."""
    with contextlib.suppress(Exception):
        await websocket.send_text(json.dumps({"type": "error", "code": code, "detail": detail}))
        await websocket.close(code=close_code, reason=code)
