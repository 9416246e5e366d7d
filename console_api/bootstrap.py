"""The one place where the domain's ports get their adapters (cosmicpython's bootstrap).

Tests and benchmarks build the same objects through here, or pass their own adapters.
"""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.ports import LivePositions
from dispatch.position_ingest import PositionIngest
from dispatch.settings import DispatchSettings
from realtime.live_positions import RedisLivePositions
from realtime.settings import RealtimeSettings


def position_ingest(
    *,
    redis: Redis,
    session_factory: async_sessionmaker[AsyncSession],
    realtime_settings: RealtimeSettings,
    dispatch_settings: DispatchSettings,
) -> PositionIngest:
    """GPS ingest whose live positions are kept in Redis and published on the position stream."""
    live: LivePositions = RedisLivePositions(
        redis,
        stream_prefix=realtime_settings.stream_prefix,
        stream_maxlen=realtime_settings.ephemeral_maxlen,
    )
    return PositionIngest(live=live, session_factory=session_factory, settings=dispatch_settings)
