"""Access tokens that die before their expiry: a revocation list in Redis, checked per request.

A JWT is valid until ``exp`` by construction; suspension, deletion, role removal and logout must
end it at once. Two kinds of entry, each kept only as long as an access token can live:

* ``user:<id>`` = the time before which every token of that user is dead (suspended, deleted,
  a role removed: tokens minted earlier carry authority the user no longer has);
* ``sid:<id>`` = a signed-out session (the refresh-token family the token was minted for).

One ``MGET`` of two keys per request (see ``bench/revocation_cost.py`` for its price).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from identity.tokens import AccessClaims

log = logging.getLogger("lifeline.identity.revocation")

PREFIX = "lifeline:revoked:"
#: Longer than the longest access token (15 min): after that the token has expired anyway.
TTL_S = 16 * 60


def user_key(user_id: uuid.UUID | str) -> str:
    """Key holding the not-before time of a user's tokens."""
    return f"{PREFIX}user:{user_id}"


def session_key(session_id: uuid.UUID | str) -> str:
    """Key marking a signed-out session."""
    return f"{PREFIX}sid:{session_id}"


async def revoke_user(redis: Redis, user_id: uuid.UUID, *, at: float | None = None) -> None:
    """Kill every token of ``user_id`` issued up to now (suspension, deletion, role removal)."""
    await redis.set(user_key(user_id), repr(time.time() if at is None else at), ex=TTL_S)


async def revoke_session(redis: Redis, session_id: uuid.UUID) -> None:
    """Kill every access token of one signed-in session (logout, refresh-token theft)."""
    await redis.set(session_key(session_id), "1", ex=TTL_S)


def _dead(claims: AccessClaims, not_before: bytes | str | None, signed_out: object) -> bool:
    if signed_out is not None:
        return True
    if not_before is None:
        return False
    try:
        return claims.issued_at <= float(not_before)
    except (TypeError, ValueError):
        return True  # a garbled entry revokes rather than forgives


async def is_revoked(redis: Redis, claims: AccessClaims) -> bool:
    """Whether ``claims`` were revoked. Redis unreachable: not revoked (logged; see README)."""
    keys = [user_key(claims.user_id)]
    if claims.session_id is not None:
        keys.append(session_key(claims.session_id))
    try:
        values = await redis.mget(keys)
    except (RedisError, OSError):
        # Availability over strictness: operators keep dispatching through a Redis outage; the
        # database still refuses refresh and sign-in to suspended users, and a token lives 15 min.
        log.warning("revocation list unreachable; accepting the token")
        return False
    return _dead(claims, values[0], values[1] if len(values) > 1 else None)


async def revoked_among(redis: Redis, claims: Iterable[AccessClaims]) -> set[AccessClaims]:
    """Which of many open sockets' claims are revoked, in one round trip (the socket watch)."""
    items = list(claims)
    if not items:
        return set()
    keys: list[str] = []
    for item in items:
        keys.append(user_key(item.user_id))
        keys.append(session_key(item.session_id) if item.session_id else f"{PREFIX}none")
    values = await redis.mget(keys)
    return {
        item
        for index, item in enumerate(items)
        if _dead(item, values[2 * index], values[2 * index + 1])
    }
