"""The one place where the domain's ports get their adapters (cosmicpython's bootstrap).

Tests and benchmarks build the same objects through here, or pass their own adapters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from care.ports import Presence
from care.settings import CareSettings
from dispatch import crew
from dispatch.ports import LivePositions
from dispatch.position_ingest import PositionIngest
from dispatch.settings import DispatchSettings
from realtime.live_positions import RedisLivePositions
from realtime.presence import RedisPresence
from realtime.settings import RealtimeSettings


@dataclass(frozen=True)
class Adapters:
    """The adapter of each port the domain declares, as one app instance uses them."""

    #: dispatch.ports.LivePositions: the fleet's live positions (GPS ingest, dispatch, coverage).
    live_positions: LivePositions
    #: care.ports.Presence: doctors' live presence with a TTL.
    presence: Presence


def adapters(
    *, redis: Redis, realtime_settings: RealtimeSettings, care_settings: CareSettings,
    dispatch_settings: DispatchSettings,
) -> Adapters:
    """Every port backed by the app's Redis."""
    return Adapters(
        live_positions=RedisLivePositions(
            redis,
            stream_prefix=realtime_settings.stream_prefix,
            stream_maxlen=realtime_settings.ephemeral_maxlen,
            stale_after_s=dispatch_settings.position_stale_seconds,
        ),
        presence=RedisPresence(redis, prefix=care_settings.presence_prefix),
    )


def position_ingest(
    *,
    live: LivePositions,
    session_factory: async_sessionmaker[AsyncSession],
    dispatch_settings: DispatchSettings,
) -> PositionIngest:
    """GPS ingest whose live positions are kept (and published) by the ``live`` adapter."""
    return PositionIngest(live=live, session_factory=session_factory, settings=dispatch_settings)


def crew_links_alive(
    session_factory: async_sessionmaker[AsyncSession],
) -> Callable[[set[Any]], Awaitable[set[Any]]]:
    """The socket authority's check of every open crew link, in one query for all: a crew's
    sockets end with their dispatch."""

    async def alive(claims: set[Any]) -> set[Any]:
        async with session_factory() as session:
            return await crew.live_among(db_session=session, claims=claims)

    return alive
