"""Abuse limits at the HTTP edge: sign-in attempts answer 429; an SOS is flagged, never refused."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from starlette.requests import HTTPConnection

from data.errors import TooManyRequests
from identity import limits, vault
from realtime.settings import get_realtime_settings

log = logging.getLogger("lifeline.limits")


def client_ip(connection: HTTPConnection) -> str:
    """The peer address (uvicorn's proxy_headers resolve X-Forwarded-For of trusted proxies)."""
    return connection.client.host if connection.client else "unknown"


def login_account_hash(email: str) -> str:
    """Names the account in the audit trail without writing the email down (keyed hash)."""
    return vault.lookup_hash(email.strip().lower(), ring=vault.keyring(), purpose="login")


def _prefix() -> str:
    return get_realtime_settings().stream_prefix


async def check_login_rate(connection: HTTPConnection, email: str) -> None:
    """Per account and per IP; a Redis outage lets sign-in through (the DB lockout still holds)."""
    settings = connection.app.state.identity_settings
    redis = connection.app.state.redis
    try:
        checks = await limits.hit_many(redis, prefix=_prefix(), counters=[
            (limits.subject_key("login-account", email), settings.login_per_account,
             settings.login_account_window_s),
            (limits.subject_key("login-ip", client_ip(connection)), settings.login_per_ip,
             settings.login_ip_window_s),
        ])
    except RedisError:
        log.warning("login rate limit unavailable (Redis error); relying on account lockout")
        return
    over = [w for w in checks if w.over]
    if over:
        raise TooManyRequests(
            "too many sign-in attempts; wait before trying again",
            retry_after_s=max(w.retry_after_s for w in over),
            code="rate_limited",
        )


#: Never slowed down here: an SOS is flagged instead, probes and scrapers must always answer.
UNLIMITED = frozenset(
    {"POST /api/v1/emergency/cases", "GET /health", "GET /health/live", "GET /health/ready",
     "GET /metrics"}
)
#: Counted per unit, not per caller: one dispatch centre's gateway may relay a whole fleet's
#: GPS fixes under one token, and each unit stays far below the limit (1 fix/s vs 10/s).
PER_UNIT = "POST /api/v1/units/{unit_id}/position"


async def check_api_rate(connection: HTTPConnection, key: str | None, user: str | None) -> None:
    """429 with Retry-After once a caller exceeds ``api_per_minute`` (Redis down: no limit)."""
    if key in UNLIMITED or connection.scope["type"] != "http":
        return
    settings = connection.app.state.identity_settings
    if key == PER_UNIT:
        subject = f"unit:{connection.path_params.get('unit_id')}"
    elif user:
        subject = f"user:{user}"
    else:
        subject = limits.subject_key("api-ip", client_ip(connection))
    try:
        window = await limits.hit(
            connection.app.state.redis, prefix=_prefix(), subject=f"api:{subject}",
            limit=settings.api_per_minute, window_s=60,
        )
    except (RedisError, AttributeError):
        return
    if window.over:
        raise TooManyRequests(
            "too many requests; slow down", retry_after_s=window.retry_after_s, code="rate_limited"
        )


async def sos_looks_abusive(connection: HTTPConnection, phone: str) -> bool:
    """Whether this SOS is over the per-phone or per-IP limit (it is accepted either way)."""
    settings = connection.app.state.identity_settings
    redis = connection.app.state.redis
    try:
        by_phone, by_ip = await limits.hit_many(redis, prefix=_prefix(), counters=[
            (limits.subject_key("sos-phone", phone), settings.sos_per_phone, settings.sos_window_s),
            (limits.subject_key("sos-ip", client_ip(connection)), settings.sos_per_ip,
             settings.sos_window_s),
        ])
    except RedisError:
        log.warning("SOS rate limit unavailable (Redis error); accepting unflagged")
        return False
    return by_phone.over or by_ip.over
