"""A minimal WebSocket client (RFC 6455) for the benchmark's thousand sockets.

One asyncio protocol per socket and no task: on a 2-core machine the measuring clients must
not take more CPU than the server they measure. Text frames, ping/pong and close only; no
extensions (the server offers none by default), no fragmented messages. Not for production use.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

#: RFC 6455 wants an unpredictable key; it protects proxies of browsers, not a loopback
#: benchmark. An all-zero key leaves the payload as is: no XOR and no urandom call per frame
#: here, and the server unmasks every frame the same way whatever the key.
_ZERO_KEY = b"\0\0\0\0"


def _masked(opcode: int, payload: bytes) -> bytes:
    """A client frame: clients must mask what they send (here with the zero key)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + _ZERO_KEY + payload


class TextClient(asyncio.Protocol):
    """Calls ``on_text(text, received_at)`` for every text message; ``received_at`` is the
    wall-clock time the bytes carrying it were read.

    With ``raw=True`` the message comes undecoded (bytes or bytearray): a reader that only
    counts frames, or looks for a marker with ``in``, never pays for UTF-8 decoding.
    """

    def __init__(self, url: str, on_text: Callable[[Any, float], None], *,
                 raw: bool = False) -> None:
        parts = urlsplit(url)
        self.host = parts.netloc
        self.target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.on_text = on_text
        self.raw = raw
        self.buffer = bytearray()
        self.need = 0  # bytes the buffer must hold before a frame can be complete
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] - uvloop's is no asyncio.Transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(  # type: ignore[attr-defined]
            (
                f"GET {self.target} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def send_text(self, text: str) -> None:
        """One masked text frame."""
        assert self.transport is not None
        self.transport.write(_masked(0x1, text.encode()))

    def close(self) -> None:
        """Send a close frame and drop the connection without waiting for the server's."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_masked(0x8, struct.pack("!H", 1000)))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        received_at = time.time()
        buffer: bytes | bytearray
        if self.buffer:
            # A frame spans reads: append in place and wait until it is whole, so a large
            # frame costs one copy, not one parse attempt and one copy per read.
            self.buffer += data
            if len(self.buffer) < self.need:
                return
            buffer = self.buffer
        else:
            buffer = data
        offset = 0
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self._keep(buffer, 0, 0)
                return
            status = bytes(buffer[: buffer.find(b"\r\n")])
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
            self.opened.set_result(None)
            offset = end + 4
        self._keep(buffer, *self._frames(buffer, offset, received_at))

    def _frames(self, buffer: bytes | bytearray, offset: int,
                received_at: float) -> tuple[int, int]:
        """Deliver the whole frames from ``offset``; the offset reached and the bytes needed."""
        size = len(buffer)
        while size - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1]
            length, start = second & 0x7F, offset + 2
            if length == 126:
                if size - start < 2:
                    break
                (length,) = struct.unpack_from("!H", buffer, start)
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                (length,) = struct.unpack_from("!Q", buffer, start)
                start += 8
            if size - start < length:
                return offset, start + length - offset
            payload = buffer[start : start + length]
            offset = start + length
            opcode = first & 0x0F
            if opcode == 0x1:
                self.on_text(payload if self.raw else payload.decode(), received_at)
            elif opcode == 0x9:  # ping: answer with the same payload
                assert self.transport is not None
                self.transport.write(_masked(0xA, bytes(payload)))
            elif opcode == 0x8:
                self.close()
        return offset, 0

    def _keep(self, buffer: bytes | bytearray, offset: int, need: int) -> None:
        """Keep the unread tail of ``buffer`` for the next read."""
        if buffer is self.buffer:
            del self.buffer[:offset]
        elif offset < len(buffer):
            self.buffer = bytearray(buffer[offset:])
        self.need = need

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)


async def open_text_client(url: str, on_text: Callable[[Any, float], None], *,
                           raw: bool = False) -> TextClient:
    """Connect and complete the opening handshake."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _transport, protocol = await loop.create_connection(
        lambda: TextClient(url, on_text, raw=raw), parts.hostname, parts.port or 80
    )
    await protocol.opened
    return protocol
