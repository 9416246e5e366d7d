"""Which browser pages may open our WebSockets: our own (whatever host and port we are served
on), the public base URL's, and those listed in ``LIFELINE_REALTIME_ALLOWED_ORIGINS``."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(connection: HTTPConnection, origin: str) -> bool:
    """The page was served by this very server: its origin names the host the browser asked for.

    A hostile page elsewhere cannot pass this: the browser sets both ``Origin`` (the page's)
    and ``Host`` (ours).
    """
    host = connection.headers.get("host", "").lower()
    if not host:
        return False
    secure = connection.url.scheme in ("https", "wss")
    return origin.lower() in {f"http{'s' if secure else ''}://{host}"}


def origin_allowed(connection: HTTPConnection, origin: str, listed: frozenset[str]) -> bool:
    """Same-origin, the public base URL's origin, or listed."""
    origin = origin.rstrip("/").lower()
    if same_origin(connection, origin) or origin in {o.lower() for o in listed}:
        return True
    public = os.environ.get("LIFELINE_PUBLIC_BASE_URL")
    return bool(public) and origin == origin_of(public)
