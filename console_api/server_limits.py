"""The HTTP server's own limits: a request must arrive whole within a deadline (slow-loris).

uvicorn times out idle keep-alive connections, but not a connection that never completes its
request: a client sending one header byte every few seconds holds a socket (and a file
descriptor) forever, and a few thousand of them exhaust the worker. This protocol arms a timer
when a connection opens and when each request begins, and disarms it once the request (head
and body) has been received; a request still incomplete at the deadline gets ``408`` and the
connection is closed. Responses that take long (SSE, long-poll) are not affected: the timer
stops when the request is complete, not when the response is.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from data.settings import package_settings

REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 24\r\nconnection: close\r\n\r\nrequest was not complete"
)


class ServerLimits(BaseSettings):
    """Read from LIFELINE_WEB_* variables (formerly LIFELINE_*) by ``lifeline serve``."""

    model_config = package_settings("LIFELINE_WEB_")

    #: Seconds a client has to send a whole request (head and body) once it starts one.
    request_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    #: Seconds an idle keep-alive connection is kept.
    keep_alive_seconds: int = Field(default=5, ge=1, le=120)
    #: Largest WebSocket message accepted (a telemetry batch of 500 fixes is ~100 KiB).
    ws_max_message_bytes: int = Field(default=256 * 1024, ge=1024)


@lru_cache
def get_server_limits() -> ServerLimits:
    """Settings are read once per process."""
    return ServerLimits()


class DeadlineHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each incoming request."""

    _request_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._request_timer is None:
            self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the WebSocket protocol has its own pings and our auth timeout
        super().handle_websocket_upgrade()

    def _arm(self) -> None:
        self._disarm()
        self._request_timer = self.loop.call_later(
            get_server_limits().request_timeout_seconds, self._timed_out
        )

    def _disarm(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _timed_out(self) -> None:
        self._request_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            # Nothing handed to the app yet: say why before closing.
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()
