"""The bounded mailbox of one client connection (a socket, an SSE stream, a long-poll).

The hub appends without waiting; the connection's sender takes everything queued at once, so
a burst of events costs one wake-up per connection, and no timer is armed per message:
heartbeats and stalled sends are handled by one hub-wide ticker (:meth:`Hub.run_ticker`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from realtime.streams import Event, EventBatch

SLOW_CONSUMER = 4008


@dataclass(frozen=True)
class Close:
    """Mailbox sentinel: the transport must close with this code."""

    code: int
    reason: str


class Sink:
    """Queued items of one connection; a full mailbox closes it as a slow consumer."""

    def __init__(
        self, maxsize: int, *, heartbeat_s: float | None = None, accepts_batches: bool = False
    ) -> None:
        self.maxsize = maxsize
        #: Whether the transport can write an :class:`EventBatch` (WebSockets) or needs each
        #: event on its own (SSE, long-poll).
        self.accepts_batches = accepts_batches
        self.items: deque[Event | EventBatch | dict[str, Any] | Close] = deque()
        self.closed: Close | None = None
        #: Heartbeats are queued by the hub's ticker at least this often (None: never).
        self.heartbeat_s = heartbeat_s
        self.next_beat = 0.0
        #: Since when the sender has been writing (None when idle), so a stall can be seen.
        self.busy_since: float | None = None
        #: The task writing to the transport, cancelled when its write stalls.
        self.sender: asyncio.Task[Any] | None = None
        self._ready = asyncio.Event()
        self._room = asyncio.Event()

    def __len__(self) -> int:
        return len(self.items)

    def offer(self, item: Event | EventBatch | dict[str, Any]) -> bool:
        """Enqueue without waiting; a full mailbox closes the sink as a slow consumer."""
        if self.closed is not None:
            return False
        if len(self.items) >= self.maxsize:
            self.close(SLOW_CONSUMER, "slow consumer")
            return False
        self.items.append(item)
        self._ready.set()
        return True

    async def put(self, item: Event | dict[str, Any]) -> None:
        """Enqueue, waiting for room (replays pace themselves to the client)."""
        while self.closed is None and len(self.items) >= self.maxsize:
            self._room.clear()
            await self._room.wait()
        if self.closed is None:
            self.items.append(item)
            self._ready.set()

    async def take(self) -> list[Event | EventBatch | dict[str, Any] | Close]:
        """Everything queued, waiting until there is something."""
        while not self.items:
            self._ready.clear()
            await self._ready.wait()
        items = list(self.items)
        self.items.clear()
        self._room.set()
        return items

    async def get(self, timeout: float) -> Event | dict[str, Any] | Close | None:
        """The next item, or None after ``timeout`` seconds (for the HTTP fallbacks)."""
        if not self.items:
            self._ready.clear()
            try:
                async with asyncio.timeout(timeout):
                    while not self.items:
                        self._ready.clear()
                        await self._ready.wait()
            except TimeoutError:
                return None
        item = self.items.popleft()
        self._room.set()
        # Sinks read one item at a time are opened without accepts_batches: never a batch.
        return cast("Event | dict[str, Any] | Close", item)

    def close(self, code: int, reason: str) -> None:
        """Discard what is queued and tell the transport to close."""
        if self.closed is not None:
            return
        self.closed = Close(code, reason)
        self.items.clear()
        self.items.append(self.closed)
        self._ready.set()
        self._room.set()

    def stalled(self, now: float, limit: float) -> bool:
        """Whether the current write has waited longer than ``limit`` (a full TCP window)."""
        return self.busy_since is not None and now - self.busy_since > limit
