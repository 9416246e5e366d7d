"""Sockets end with their authority: caps per principal and address, expiry, revocation.

A socket is authorised once, at its start; without this watch it would outlive the token that
opened it, the session that signed out, the role that was removed and the dispatch its crew
link was for. One task per worker checks every held socket each ``authority_check_seconds``:

* a token nearing ``exp`` gets ``{"type": "reauth_required"}``; the client answers in-band
  with ``{"type": "auth", "token": <fresh>}``, or the socket is closed at ``exp`` with
  :data:`TOKEN_EXPIRED`;
* a revoked token (see :mod:`identity.revocation`) is closed with :data:`AUTHORITY_REVOKED`,
  as is a crew link whose dispatch ended (its own liveness check);
* a new socket over the cap of its principal or client address is refused with
  :data:`TOO_MANY_SOCKETS`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from identity import revocation
from identity.tokens import AccessClaims

log = logging.getLogger("lifeline.realtime.authority")

#: Close codes (RFC 6455 private range), documented in the README.
TOKEN_EXPIRED = 4010
AUTHORITY_REVOKED = 4011
TOO_MANY_SOCKETS = 4029
#: How long before ``exp`` the client is asked for a fresh token.
REAUTH_LEAD_S = 60.0


class TooManySockets(Exception):
    """A principal or an address already holds as many sockets as it may."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(eq=False)
class HeldSocket:
    """One open socket's authority, and how to tell or close it."""

    principal: str
    address: str
    close: Callable[[int, str], Any]
    notify: Callable[[dict[str, Any]], Any]
    claims: AccessClaims | None = None
    #: A capability whose liveness is checked (a crew link's claims); found dead, the socket
    #: closes. All sockets' capabilities are checked together, by ``capabilities_alive``.
    capability: Hashable | None = None
    warned: bool = field(default=False)
    closed: bool = field(default=False)

    def end(self, code: int, reason: str) -> None:
        """Close once."""
        if not self.closed:
            self.closed = True
            self.close(code, reason)


class SocketAuthority:
    """The sockets of this worker, by principal and address, watched for lost authority."""

    def __init__(
        self,
        *,
        redis: Redis,
        per_principal: int,
        per_address: int,
        interval_s: float = 1.0,
        capability_interval_s: float = 2.0,
        capabilities_alive: Callable[[set[Any]], Awaitable[set[Any]]] | None = None,
    ) -> None:
        self.redis = redis
        self.per_principal = per_principal
        self.per_address = per_address
        self.interval_s = interval_s
        self.capability_interval_s = capability_interval_s
        #: Given every held capability, returns those still alive (one query for all).
        self.capabilities_alive = capabilities_alive
        self.held: set[HeldSocket] = set()
        self.by_principal: Counter[str] = Counter()
        self.by_address: Counter[str] = Counter()
        self._next_capability_check = 0.0

    def admit(self, held: HeldSocket) -> None:
        """Count a new socket in, or raise :class:`TooManySockets`."""
        if self.by_principal[held.principal] >= self.per_principal:
            raise TooManySockets(f"at most {self.per_principal} sockets per signed-in principal")
        if self.by_address[held.address] >= self.per_address:
            raise TooManySockets(f"at most {self.per_address} sockets per client address")
        self.by_principal[held.principal] += 1
        self.by_address[held.address] += 1
        self.held.add(held)

    def release(self, held: HeldSocket) -> None:
        """The socket is gone."""
        if held in self.held:
            self.held.discard(held)
            for counter, key in ((self.by_principal, held.principal),
                                 (self.by_address, held.address)):
                counter[key] -= 1
                if counter[key] <= 0:
                    del counter[key]

    def renew(self, held: HeldSocket, claims: AccessClaims) -> None:
        """An in-band re-authentication: the socket lives until the new token's expiry."""
        held.claims = claims
        held.warned = False

    async def sweep(self, now: float | None = None) -> None:
        """One pass: expiry, revocation, capability liveness."""
        now = time.time() if now is None else now
        tokens: list[HeldSocket] = []
        for held in list(self.held):
            if held.closed or held.claims is None:
                continue
            if now >= held.claims.expires_at:
                held.end(TOKEN_EXPIRED, "token_expired")
                continue
            if not held.warned and now >= held.claims.expires_at - REAUTH_LEAD_S:
                held.warned = True
                held.notify({"type": "reauth_required", "expires_at": held.claims.expires_at})
            tokens.append(held)
        if tokens:
            try:
                claims = [h.claims for h in tokens if h.claims is not None]
                dead = await revocation.revoked_among(self.redis, claims)
            except (RedisError, OSError):
                dead = set()  # the per-request check logs the outage; sockets keep serving
            for held in tokens:
                if held.claims in dead:
                    held.end(AUTHORITY_REVOKED, "revoked")
        if now >= self._next_capability_check and self.capabilities_alive is not None:
            self._next_capability_check = now + self.capability_interval_s
            holding = [h for h in self.held if h.capability is not None and not h.closed]
            if not holding:
                return
            try:
                alive = await self.capabilities_alive({h.capability for h in holding})
            except Exception:  # a failed check is retried, not fatal
                log.warning("capability check failed; retrying", exc_info=True)
                return
            for held in holding:
                if held.capability not in alive:
                    held.end(AUTHORITY_REVOKED, "capability_ended")

    async def run(self) -> None:
        """Sweep forever."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.sweep()
            except Exception:  # the watch must outlive one bad pass
                log.exception("socket authority sweep failed")
