"""Real-time delivery settings, read from LIFELINE_REALTIME_* (formerly LIFELINE_*) variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings

from data.settings import package_settings


class RealtimeSettings(BaseSettings):
    """Relay, stream retention, heartbeats and the browser Origin allow-list."""

    model_config = package_settings("LIFELINE_REALTIME_")

    #: Browser origins allowed to open /ws besides the server's own (same-origin is always
    #: allowed, as is the origin of LIFELINE_PUBLIC_BASE_URL); comma separated.
    allowed_origins: str = ""
    heartbeat_seconds: float = Field(default=10.0, gt=0, le=10.0)
    #: Streams keep about this many entries; older gaps are replayed from the database outbox.
    stream_maxlen: int = Field(default=10_000, ge=100)
    #: Ephemeral channels (unit positions) have no outbox behind them, so keep less.
    ephemeral_maxlen: int = Field(default=2_000, ge=100)
    #: Redis key prefix; a Redis shared by several databases (dev, test, bench) needs one each,
    #: since every database numbers its events from 1.
    stream_prefix: str = "lifeline:stream:"
    relay_enabled: bool = True
    relay_batch: int = Field(default=500, ge=1, le=5_000)
    relay_poll_seconds: float = Field(default=0.2, gt=0)
    relay_lock_retry_seconds: float = Field(default=1.0, gt=0)
    hub_block_ms: int = Field(default=1_000, ge=10)
    queue_size: int = Field(default=1_000, ge=10)
    send_timeout_seconds: float = Field(default=10.0, gt=0)
    auth_timeout_seconds: float = Field(default=10.0, gt=0)
    #: permessage-deflate on /ws (``lifeline serve``): saves bandwidth on slow links, but costs
    #: a zlib context per connection and one compression per event per subscriber.
    ws_deflate: bool = False
    #: Unit positions reach subscribers as the latest fix per unit at most this often (0: every
    #: fix at once). A map needs no more; thousands of fixes a second times hundreds of consoles
    #: would otherwise be millions of messages.
    position_coalesce_ms: int = Field(default=1_000, ge=0, le=10_000)
    #: Sockets that asked for ``?batch=1`` get at most one frame per this gap (20 a second),
    #: holding every message due (a JSON array): a frame costs a worker ~40 us however small,
    #: so 500 consoles at 50 frames/s would take a core. Events slower than that go at once.
    ws_batch_gap_ms: int = Field(default=50, ge=0, le=1_000)
    #: Sockets (``/ws``, ``/ws/telemetry``, SSE) one principal (a user, a case token, a crew
    #: link) may hold on one worker; more are refused with close code 4029 (SSE: 429).
    ws_per_principal: int = Field(default=20, ge=1)
    #: Sockets one client address may hold on one worker (a hospital behind NAT shares one).
    ws_per_address: int = Field(default=1_000, ge=1)
    #: How often each worker re-checks its sockets' authority (expiry, revocation).
    authority_check_seconds: float = Field(default=1.0, gt=0, le=10.0)

    @property
    def origins(self) -> frozenset[str]:
        """The allow-list as a set of exact origins."""
        origins = (o.strip().rstrip("/") for o in self.allowed_origins.split(","))
        return frozenset(o for o in origins if o)


@lru_cache
def get_realtime_settings() -> RealtimeSettings:
    """Settings are read once per process."""
    return RealtimeSettings()
