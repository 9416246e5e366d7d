"""Who the client is: the peer address, or the first untrusted hop behind a configured proxy.

Per-address limits, the sign-in throttle and the loopback rule of ``/metrics`` all key on the
client address, so ``X-Forwarded-For`` is believed only from the proxies listed in
``LIFELINE_IDENTITY_TRUSTED_PROXIES`` (none by default): from anyone else a client could name
itself.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Set on the scope when the request carried X-Forwarded-For that was NOT believed.
UNTRUSTED_FORWARDING = "lifeline.untrusted_forwarding"


@lru_cache
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """Parse ``LIFELINE_IDENTITY_TRUSTED_PROXIES`` (IPs or CIDR blocks, comma separated)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",")
        if part.strip()
    )


def _trusted(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def resolve(peer: str, forwarded_for: str | None, networks: tuple[Network, ...]) -> str:
    """The client: the peer, unless it is a trusted proxy; then, walking X-Forwarded-For from the
    right, the first hop that is not itself a trusted proxy."""
    if not forwarded_for or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


class ForwardedFor:
    """Rewrites the ASGI ``client`` (and ``scheme``) from forwarding headers of trusted proxies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            headers = dict(scope.get("headers") or [])
            forwarded = headers.get(b"x-forwarded-for")
            if forwarded is not None:
                settings = scope["app"].state.identity_settings
                networks = trusted_networks(settings.trusted_proxies)
                peer = scope["client"][0]
                if _trusted(peer, networks):
                    client = resolve(peer, forwarded.decode("latin-1"), networks)
                    scope["client"] = (client, 0)
                    proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip()
                    if proto in ("http", "https"):
                        secure = proto == "https"
                        kind = "ws" if scope["type"] == "websocket" else "http"
                        scope["scheme"] = kind + ("s" if secure else "")
                else:
                    scope[UNTRUSTED_FORWARDING] = True
        await self.app(scope, receive, send)


def client_ip(connection: HTTPConnection) -> str:
    """The client address (already resolved by :class:`ForwardedFor`)."""
    return connection.client.host if connection.client else "unknown"


def is_local(connection: HTTPConnection) -> bool:
    """A loopback client that did not come through an unlisted proxy (``/metrics`` without a
    token): an unlisted proxy on this host would otherwise make every outsider look local."""
    if connection.scope.get(UNTRUSTED_FORWARDING) or connection.client is None:
        return False
    try:
        return ipaddress.ip_address(connection.client.host).is_loopback
    except ValueError:
        return False
