"""Redis clients from REDIS_URL: a plain ``redis://`` URL, or Sentinel for a replicated Redis.

``redis+sentinel://[:password@]host:port[,host:port...]/service[/db]`` asks the sentinels
which server is the master of ``service`` at every (re)connection, so after a Sentinel
failover the next command reaches the promoted replica (docs/scaling.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel

SENTINEL_SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelAddress:
    """Where the sentinels are, which master they watch, and the database and password."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    password: str | None = None


def parse_sentinel_url(url: str) -> SentinelAddress:
    """Split a ``redis+sentinel://`` URL; a ValueError says what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"not a {SENTINEL_SCHEME}:// URL")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    password = unquote(userinfo.partition(":")[2]) if userinfo else None
    sentinels = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
        if not host:
            raise ValueError(f"a sentinel address is empty in {url!r}")
        sentinels.append((host, int(port) if port else DEFAULT_SENTINEL_PORT))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("the path must be /<service name>[/<db>]")
    return SentinelAddress(
        sentinels=tuple(sentinels),
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        password=password or None,
    )


def redis_from_url(url: str, **kwargs: Any) -> aioredis.Redis:
    """An asyncio client for REDIS_URL; ``kwargs`` (timeouts) apply to the master connections."""
    if not url.startswith(SENTINEL_SCHEME + "://"):
        return aioredis.from_url(url, **kwargs)
    address = parse_sentinel_url(url)
    timeout = kwargs.get("socket_connect_timeout", 2)
    sentinel = Sentinel(
        address.sentinels,
        sentinel_kwargs={"socket_timeout": timeout, "socket_connect_timeout": timeout},
    )
    return sentinel.master_for(
        address.service, db=address.db, password=address.password, **kwargs
    )
