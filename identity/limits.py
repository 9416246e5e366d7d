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
