"""Abuse limits at the HTTP edge: sign-in attempts answer 429; an SOS is flagged, never refused."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError
from starlette.requests import HTTPConnection

from console_api.client_address import client_ip
from data.errors import TooManyRequests
from identity import limits, vault
from realtime.settings import get_realtime_settings

log = logging.getLogger("lifeline.limits")


def login_account_hash(email: str) -> str:
    """Names the account in the audit trail without writing the email down (keyed hash)."""
    return vault.lookup_hash(email.strip().lower(), ring=vault.keyring(), purpose="login")


def _prefix() -> str:
    return get_realtime_settings().stream_prefix


def _too_many(retry_after_s: int) -> TooManyRequests:
    """One answer for every sign-in throttle, so a 429 does not tell that an account exists."""
    return TooManyRequests(
        "too many sign-in attempts; wait before trying again", retry_after_s=retry_after_s,
        code="rate_limited",
    )


@dataclass
class LoginThrottle:
    """The throttles one sign-in step passes: counted before it, told how it ended after it.

    Keyed by the email as typed (hashed), whether or not an account has it, and by the client
    address: a lockout earned by one client never locks the same account on another client.
    """

    connection: HTTPConnection
    account: str
    pair: str
    available: bool = True

    async def failed(self) -> None:
        """A wrong password or code: lock this client out of this account with back-off."""
        if not self.available:
            return
        settings = self.connection.app.state.identity_settings
        try:
            await limits.record_failure(
                self.connection.app.state.redis, prefix=_prefix(), pair=self.pair,
                account=self.account, window_s=settings.login_account_window_s,
            )
        except RedisError:
            log.warning("login lockout unavailable (Redis error)")

    async def succeeded(self) -> None:
        """Every factor was right: this client's failures on this account are forgotten."""
        if not self.available:
            return
        try:
            await limits.forget_failures(
                self.connection.app.state.redis, prefix=_prefix(), pair=self.pair
            )
        except RedisError:
            log.warning("login lockout unavailable (Redis error)")


async def login_throttle(connection: HTTPConnection, email: str) -> LoginThrottle:
    """429 (with Retry-After) while this client is locked out of this account, over its
    attempts per account, per address, or the account over its global ceiling.

    A Redis outage lets sign-in through, bounded by the password-check gate of each worker.
    """
    settings = connection.app.state.identity_settings
    redis = connection.app.state.redis
    ip = client_ip(connection)
    account = limits.subject_key("login-account", email)
    pair = limits.subject_key("login-pair", f"{email.strip().lower()}\n{ip}")
    throttle = LoginThrottle(connection, account=account, pair=pair)
    try:
        state = await limits.sign_in_state(
            redis, prefix=_prefix(), pair=pair, account=account,
            account_limit=settings.login_per_account_global,
            window_s=settings.login_account_window_s,
            counters=[
                (pair, settings.login_per_account, settings.login_account_window_s),
                (limits.subject_key("login-ip", ip), settings.login_per_ip,
                 settings.login_ip_window_s),
            ],
        )
    except RedisError:
        log.warning("login rate limit unavailable (Redis error); relying on the hashing gate")
        throttle.available = False
        return throttle
    if state.locked_s:
        raise _too_many(state.locked_s)
    over = [w for w in [*state.windows, state.account_failures] if w.over]
    if over:
        raise _too_many(max(w.retry_after_s for w in over))
    return throttle


#: Never slowed down here: an SOS is flagged instead, probes and scrapers must always answer.
UNLIMITED = frozenset(
    {"POST /api/v1/emergency/cases", "GET /health", "GET /health/live", "GET /health/ready",
     "GET /metrics"}
)
#: Counted by the stricter sign-in throttles instead (per account and address, per address, the
#: password-check gate): one Redis round trip less for each attempt of a flood.
SIGN_IN = frozenset(
    {"POST /api/v1/auth/login", "POST /api/v1/auth/mfa/enrol", "POST /api/v1/auth/mfa/activate"}
)
#: Counted per unit, not per caller: one dispatch centre's gateway may relay a whole fleet's
#: GPS fixes under one token, and each unit stays far below the limit (1 fix/s vs 10/s).
PER_UNIT = "POST /api/v1/units/{unit_id}/position"


async def check_api_rate(connection: HTTPConnection, key: str | None, user: str | None) -> None:
    """429 with Retry-After once a caller exceeds ``api_per_minute`` (Redis down: no limit)."""
    if key in UNLIMITED or key in SIGN_IN or connection.scope["type"] != "http":
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
