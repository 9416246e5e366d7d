"""Contention is not an outage: a request whose transaction PostgreSQL aborted for a deadlock or a
serialization failure is run again, a bounded number of times, then answered 409.

Fifty bookings of one slot under CPU load used to meet deadlocks inside the exclusion constraint
and answer 49 x ``503 database_unavailable``. The aborted transaction wrote nothing, so running
the whole request again is safe (writes that must happen once carry their idempotency key in the
same transaction); after :data:`RETRIES` retries the caller gets the conflict it is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("lifeline.contention")

RETRIES = 4
#: Random pause before retry n: up to BACKOFF_S * n, so the colliding requests fall apart.
BACKOFF_S = 0.02


class Contention(Exception):
    """Raised by the database error handler for a deadlock or serialization failure."""


class RetryOnContention:
    """ASGI middleware: replay the request (its body is kept as it is read) on
    :class:`Contention` before any byte of the answer was sent; then a 409 ``write_conflict``."""

    def __init__(self, app: ASGIApp, *, retries: int = RETRIES) -> None:
        self.app = app
        self.retries = retries

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen: list[Message] = []
        for attempt in range(self.retries + 1):
            run = _Attempt(receive, send, seen)
            try:
                await self.app(scope, run.receive, run.send)
                return
            except Contention:
                if run.started:
                    raise
                log.info("contention on %s %s (attempt %d)", scope["method"], scope["path"],
                         attempt + 1)
                if attempt < self.retries:
                    await asyncio.sleep(random.uniform(0, BACKOFF_S * (attempt + 1)))
        await self._conflict(scope, send)

    async def _conflict(self, scope: Scope, send: Send) -> None:
        body = json.dumps({
            "type": "https://lifeline.example/problems/write_conflict",
            "title": "Conflict",
            "status": 409,
            "code": "write_conflict",
            "detail": "concurrent changes to the same data kept colliding; read it again and "
                      "retry (with the same Idempotency-Key)",
            "instance": scope.get("path"),
        }).encode()
        await send({
            "type": "http.response.start",
            "status": 409,
            "headers": [(b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", b"1")],
        })
        await send({"type": "http.response.body", "body": body})


class _Attempt:
    """One run of the request: replays the body read so far, then reads on; notes the start."""

    def __init__(self, receive: Receive, send: Send, seen: list[Message]) -> None:
        self._receive, self._send, self._seen = receive, send, seen
        self._replay = list(seen)
        self.started = False

    async def receive(self) -> Message:
        if self._replay:
            return self._replay.pop(0)
        message = await self._receive()
        if message["type"] == "http.request":
            self._seen.append(message)
        return message

    async def send(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)
