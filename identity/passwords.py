"""Password hashing with argon2id (RFC 9106 low-memory profile), kept off the event loop.

One check costs ~100 ms of CPU. Run on the event loop, a handful of sign-ins stalled every SOS
of the worker; here each check runs in a small thread pool of its own (argon2 releases the GIL),
and a bounded gate in front of it answers the excess with 429 instead of queueing without end.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from data.errors import TooManyRequests

_hasher = PasswordHasher()

#: Hash of a random password, verified against when the user does not exist so timing is equal.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing-only")


def hash_password(password: str) -> str:
    """An argon2id hash that embeds its own salt and parameters."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; spends the same time when the user is unknown."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class HashingGate:
    """At most ``running`` checks at once (in threads) and ``waiting`` queued behind them, per
    worker; a check beyond that is refused at once with :class:`TooManyRequests`."""

    def __init__(self, *, running: int, waiting: int) -> None:
        self.running = running
        self.waiting = waiting
        self._pool = ThreadPoolExecutor(max_workers=running, thread_name_prefix="argon2")
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting, across every event loop of the process

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self.running + self.waiting:
                raise TooManyRequests(
                    "the server is busy checking other sign-ins; try again in a moment",
                    retry_after_s=1, code="sign_in_busy",
                )
            self._admitted += 1

    def _leave(self) -> None:
        with self._lock:
            self._admitted -= 1

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """:func:`verify_password` in the pool; 429 when the gate is full."""
        self._admit()
        try:
            loop = asyncio.get_running_loop()
            # The pool itself bounds the running checks; the admission count bounds the queue.
            return await loop.run_in_executor(self._pool, verify_password, password_hash, password)
        finally:
            self._leave()

    async def hash(self, password: str) -> str:
        """:func:`hash_password` in the pool, under the same bound."""
        self._admit()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, hash_password, password
            )
        finally:
            self._leave()


_gate: HashingGate | None = None


def hashing_gate(*, running: int = 1, waiting: int = 4) -> HashingGate:
    """The process's gate (created with the first caller's bounds)."""
    global _gate
    if _gate is None:
        _gate = HashingGate(running=running, waiting=waiting)
    return _gate
