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
    now = time.time()
    start = int(now // window_s) * window_s
    key = f"{prefix}limit:{subject}:{start}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window_s + 1)
        count, _ = await pipe.execute()
    retry_after_s = max(1, int(start + window_s - now) + 1)
    return Window(count=int(count), limit=limit, retry_after_s=retry_after_s)
