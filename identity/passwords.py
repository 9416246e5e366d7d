"""Password hashing with argon2id (RFC 9106 low-memory profile), kept off the event loop.

One check costs ~100 ms of CPU. Run on the event loop, a handful of sign-ins stalled every SOS
of the worker; here each check runs in a small thread pool of its own (argon2 releases the GIL),
and a bounded gate in front of it answers the excess with 429 instead of queueing without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
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


#: Nice value of the hashing threads (and of the lane threads argon2 starts from them): on a
#: busy machine the worker's event loop, which takes every SOS, wins the CPU from sign-ins.
HASHING_NICE = 19


def _yield_to_emergencies() -> None:
    """Lower this thread's CPU priority (Linux: nice is per thread, inherited by new threads)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICE)


class HashingGate:
    """At most ``running`` password checks at once (in threads) and ``waiting`` sign-in steps
    queued behind them, per worker; a step beyond that is refused at once with
    :class:`TooManyRequests`."""

    def __init__(self, *, running: int, waiting: int) -> None:
        self.running = running
        self.waiting = waiting
        self._pool = ThreadPoolExecutor(
            max_workers=running, thread_name_prefix="argon2", initializer=_yield_to_emergencies
        )
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting, across every event loop of the process

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Admission of one sign-in step; refused at once (429) when the gate is full.

        Taken before the step's database and Redis work, so a flood is turned away cheaply.
        """
        with self._lock:
            if self._admitted >= self.running + self.waiting:
                raise TooManyRequests(
                    "the server is busy checking other sign-ins; try again in a moment",
                    retry_after_s=1, code="sign_in_busy",
                )
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """:func:`verify_password` in the pool (which bounds the checks running at once)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, verify_password, password_hash, password)


_gate: HashingGate | None = None


def hashing_gate(*, running: int = 1, waiting: int = 4) -> HashingGate:
    """The process's gate (created with the first caller's bounds)."""
    global _gate
    if _gate is None:
        _gate = HashingGate(running=running, waiting=waiting)
    return _gate
