"""A minimal WebSocket client (RFC 6455) for the benchmark's thousand receiving sockets.

One asyncio protocol per socket and no task: on a 2-core machine the measuring clients must
not take more CPU than the server they measure. Text frames, ping/pong and close only; no
extensions (the server offers none by default). Not for production use.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable
from urllib.parse import urlsplit


def _masked(opcode: int, payload: bytes) -> bytes:
    """A client frame: clients must mask what they send."""
    key = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    mask = (key * (length // 4 + 1))[:length]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(length, "big")
    return header + key + body


class TextClient(asyncio.Protocol):
    """Calls ``on_text(text, received_at)`` for every text message; ``received_at`` is the
    wall-clock time the bytes carrying it were read."""

    def __init__(self, url: str, on_text: Callable[[str, float], None]) -> None:
        parts = urlsplit(url)
        self.host = parts.netloc
        self.target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.on_text = on_text
        self.buffer = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] - uvloop's is no asyncio.Transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
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

    def data_received(self, data: bytes) -> None:
        received_at = time.time()
        buffer = self.buffer + data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            status = buffer[: buffer.find(b"\r\n")]
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
            self.opened.set_result(None)
            buffer = buffer[end + 4 :]
        offset, size = 0, len(buffer)
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
                break
            payload = buffer[start : start + length]
            offset = start + length
            opcode = first & 0x0F
            if opcode == 0x1:
                self.on_text(payload.decode(), received_at)
            elif opcode == 0x9:  # ping: answer with the same payload
                assert self.transport is not None
                self.transport.write(_masked(0xA, payload))
            elif opcode == 0x8:
                assert self.transport is not None
                self.transport.close()
        self.buffer = buffer[offset:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)


async def open_text_client(url: str, on_text: Callable[[str, float], None]) -> TextClient:
    """Connect and complete the opening handshake."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _transport, protocol = await loop.create_connection(
        lambda: TextClient(url, on_text), parts.hostname, parts.port or 80
    )
    await protocol.opened
    return protocol
