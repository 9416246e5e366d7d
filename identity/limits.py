"""Fixed-window counters in Redis, so every worker shares one view of who is hammering us."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True)
class Window:
    """The state of one counter after a hit."""

    count: int
    limit: int
    retry_after_s: int

    @property
    def over(self) -> bool:
        """More hits than the limit in this window."""
        return self.count > self.limit


def subject_key(kind: str, value: str) -> str:
    """A Redis key part that does not store the phone number, email or IP itself."""
    return f"{kind}:{hashlib.sha256(value.strip().lower().encode()).hexdigest()[:24]}"


async def hit(redis: Redis, *, prefix: str, subject: str, limit: int, window_s: int) -> Window:
    """Count one attempt by ``subject`` in the current window."""
    (window,) = await hit_many(redis, prefix=prefix, counters=[(subject, limit, window_s)])
    return window


async def hit_many(
    redis: Redis, *, prefix: str, counters: list[tuple[str, int, int]]
) -> list[Window]:
    """Count one attempt on each ``(subject, limit, window_s)`` in one round trip."""
    now = time.time()
    starts = [int(now // window_s) * window_s for _, _, window_s in counters]
    async with redis.pipeline(transaction=True) as pipe:
        for (subject, _, window_s), start in zip(counters, starts, strict=True):
            key = f"{prefix}limit:{subject}:{start}"
            pipe.incr(key)
            pipe.expire(key, window_s + 1)
        replies = await pipe.execute()
    return [
        Window(
            count=int(replies[2 * i]),
            limit=limit,
            retry_after_s=max(1, int(start + window_s - now) + 1),
        )
        for i, ((_, limit, window_s), start) in enumerate(zip(counters, starts, strict=True))
    ]


#: Failures of one client on one account before it is locked out; each further one doubles the
#: lock, from 30 s up to an hour.
LOCKOUT_AFTER = 5
LOCKOUT_BASE_S = 30
LOCKOUT_MAX_S = 3600


def lockout_seconds(failures: int) -> int:
    """How long the ``failures``-th failure in a row locks its client out (0: not yet)."""
    over = failures - LOCKOUT_AFTER
    return 0 if over < 0 else min(LOCKOUT_BASE_S * 2**over, LOCKOUT_MAX_S)


@dataclass(frozen=True)
class SignInState:
    """What the throttles say before a sign-in step is tried."""

    locked_s: int
    windows: list[Window]
    account_failures: Window


async def sign_in_state(
    redis: Redis, *, prefix: str, pair: str, account: str, account_limit: int, window_s: int,
    counters: list[tuple[str, int, int]],
) -> SignInState:
    """Count the attempt on ``counters`` and read the pair's lock and the account's failures
    (every client together), in one round trip."""
    now = time.time()
    start = int(now // window_s) * window_s
    starts = [int(now // w) * w for _, _, w in counters]
    async with redis.pipeline(transaction=False) as pipe:
        pipe.ttl(f"{prefix}lock:{pair}")
        pipe.get(f"{prefix}fails:{account}:{start}")
        for (subject, _, w), s in zip(counters, starts, strict=True):
            key = f"{prefix}limit:{subject}:{s}"
            pipe.incr(key)
            pipe.expire(key, w + 1)
        replies = await pipe.execute()
    windows = [
        Window(count=int(replies[2 + 2 * i]), limit=limit,
               retry_after_s=max(1, int(s + w - now) + 1))
        for i, ((_, limit, w), s) in enumerate(zip(counters, starts, strict=True))
    ]
    failures = Window(count=int(replies[1] or 0), limit=account_limit,
                      retry_after_s=max(1, int(start + window_s - now) + 1))
    return SignInState(locked_s=max(0, int(replies[0])), windows=windows,
                       account_failures=failures)


async def record_failure(
    redis: Redis, *, prefix: str, pair: str, account: str, window_s: int
) -> int:
    """Count a failed step for the client (``pair``) and the account; lock the pair once it
    has failed :data:`LOCKOUT_AFTER` times in a row. Returns the lock in seconds (0: none)."""
    start = int(time.time() // window_s) * window_s
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(f"{prefix}fails:{pair}")
        pipe.expire(f"{prefix}fails:{pair}", LOCKOUT_MAX_S * 2)
        pipe.incr(f"{prefix}fails:{account}:{start}")
        pipe.expire(f"{prefix}fails:{account}:{start}", window_s + 1)
        replies = await pipe.execute()
    seconds = lockout_seconds(int(replies[0]))
    if seconds:
        await redis.set(f"{prefix}lock:{pair}", 1, ex=seconds)
    return seconds


async def forget_failures(redis: Redis, *, prefix: str, pair: str) -> None:
    """Every factor was right: the client's run of failures on this account ends."""
    await redis.delete(f"{prefix}fails:{pair}", f"{prefix}lock:{pair}")
