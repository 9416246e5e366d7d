"""Doctors' live presence in Redis with a TTL: the adapter behind care.ports.Presence.

A key per doctor holding ``{"state", "hospital_id"}``; Redis expires it, so a doctor whose
heartbeats stop goes offline without anyone writing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from data.errors import Unavailable

_DOWN = "doctor presence is unavailable; try again"


class RedisPresence:
    """Presence keys ``{prefix}{doctor_id}`` (see :class:`care.ports.Presence`)."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def key(self, doctor_id: uuid.UUID) -> str:
        """The Redis key holding a doctor's live presence."""
        return f"{self.prefix}{doctor_id}"

    async def announce(
        self, doctor_id: uuid.UUID, *, state: str, hospital_id: uuid.UUID | None, ttl_s: int
    ) -> None:
        """SET with an expiry: the state lives ``ttl_s`` seconds."""
        value = {"state": state, "hospital_id": str(hospital_id) if hospital_id else None}
        try:
            await self.redis.set(self.key(doctor_id), json.dumps(value), ex=ttl_s)
        except RedisError as exc:
            raise Unavailable(_DOWN) from exc

    async def withdraw(self, doctor_id: uuid.UUID) -> None:
        """DEL the key."""
        try:
            await self.redis.delete(self.key(doctor_id))
        except RedisError as exc:
            raise Unavailable(_DOWN) from exc

    async def refresh(self, doctor_id: uuid.UUID, *, ttl_s: int) -> bool:
        """EXPIRE moves the TTL in Redis itself, so a heartbeat never races the expiry."""
        try:
            return bool(await self.redis.expire(self.key(doctor_id), ttl_s))
        except RedisError as exc:
            raise Unavailable(_DOWN) from exc

    async def states(self, doctor_ids: Sequence[uuid.UUID]) -> list[str | None]:
        """One MGET for the whole list."""
        if not doctor_ids:
            return []
        try:
            values = await self.redis.mget([self.key(i) for i in doctor_ids])
        except RedisError as exc:
            raise Unavailable(_DOWN) from exc
        return [json.loads(v)["state"] if v else None for v in values]
