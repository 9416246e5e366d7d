"""Annotated dependencies: the database session, the caller's identity and role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from care.ports import Presence
from care.settings import CareSettings
from data.errors import Unauthenticated
from dispatch.case_events import Actor
from dispatch.destinations import Destinations
from dispatch.ports import LivePositions
from dispatch.position_ingest import PositionIngest
from dispatch.settings import DispatchSettings
from fleet_coverage.dispatch_cost import DispatchCost
from fleet_coverage.service import CoverageBook
from identity.settings import IdentitySettings
from identity.tokens import AccessClaims, verify_access_token
from messaging.settings import MessagingSettings
from realtime.authority import SocketAuthority
from realtime.hub import Hub
from realtime.settings import RealtimeSettings

bearer_scheme = HTTPBearer(auto_error=False, description="JWT access token from /auth/login")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; rolled back if the handler did not commit."""
    async with request.app.state.session_factory() as session:
        yield session


async def get_identity_settings(connection: HTTPConnection) -> IdentitySettings:
    """Identity settings of this app instance (HTTP or WebSocket)."""
    return connection.app.state.identity_settings


def get_dispatch_settings(connection: HTTPConnection) -> DispatchSettings:
    """Dispatch policy of this app instance, handed to the dispatch services explicitly."""
    return connection.app.state.dispatch_settings


def get_care_settings(connection: HTTPConnection) -> CareSettings:
    """Care settings of this app instance (presence, clinic time zone, treatment window)."""
    return connection.app.state.care_settings


def get_realtime_settings(connection: HTTPConnection) -> RealtimeSettings:
    """Real-time delivery settings of this app instance (stream prefix, socket caps)."""
    return connection.app.state.realtime_settings


async def get_destinations(request: Request) -> Destinations:
    """The road engines of this process."""
    return request.app.state.destinations


def get_engine(connection: HTTPConnection) -> AsyncEngine | None:
    """The app's async engine; None before start-up made one (a health check still answers)."""
    return getattr(connection.app.state, "engine", None)


def get_loaded_destinations(connection: HTTPConnection) -> Destinations | None:
    """The road engines, or None while start-up is still loading them (readiness says so)."""
    return getattr(connection.app.state, "destinations", None)


def get_redis_if_started(connection: HTTPConnection) -> Redis | None:
    """The app's Redis client; None before start-up made one (a health check still answers)."""
    return getattr(connection.app.state, "redis", None)


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for reads that may be a moment stale: on the standby with DATABASE_READ_URL."""
    async with request.app.state.read_session_factory() as session:
        yield session


def get_redis(connection: HTTPConnection) -> Redis:
    """The app's Redis client (live positions, presence, rate limits, revocation)."""
    return connection.app.state.redis


def get_live_positions(connection: HTTPConnection) -> LivePositions:
    """The fleet's live-position store (the adapter console_api.bootstrap chose)."""
    return connection.app.state.adapters.live_positions


def get_presence(connection: HTTPConnection) -> Presence:
    """Doctors' live presence (the adapter console_api.bootstrap chose)."""
    return connection.app.state.adapters.presence


def get_session_factory(connection: HTTPConnection) -> async_sessionmaker[AsyncSession]:
    """For work that needs a session of its own (a retry on the new primary, a socket)."""
    return connection.app.state.session_factory


def get_sync_engine(connection: HTTPConnection) -> Engine:
    """The blocking engine that road-closure rebuilds run on, in a thread."""
    return connection.app.state.sync_engine


def get_messaging_settings(connection: HTTPConnection) -> MessagingSettings:
    """Twilio credentials and the public URL its signatures are computed over."""
    return connection.app.state.messaging_settings


def get_position_ingest(connection: HTTPConnection) -> PositionIngest:
    """This worker's batcher of unit positions."""
    return connection.app.state.position_ingest


def get_realtime_hub(connection: HTTPConnection) -> Hub:
    """This worker's real-time hub (subscriptions, fan-out, replay)."""
    return connection.app.state.realtime_hub


def get_socket_authority(connection: HTTPConnection) -> SocketAuthority:
    """This worker's watch over open sockets' tokens and caps."""
    return connection.app.state.socket_authority


def get_coverage_book(connection: HTTPConnection) -> CoverageBook:
    """The process's coverage state, created on first use."""
    found = getattr(connection.app.state, "coverage_book", None)
    if found is None:
        found = CoverageBook(connection.app.state.destinations)
        connection.app.state.coverage_book = found
    return found


def get_dispatch_cost(connection: HTTPConnection) -> DispatchCost:
    """What each recommended unit's departure costs the region's coverage (cached per fleet)."""
    found = getattr(connection.app.state, "dispatch_cost", None)
    if found is None:
        found = DispatchCost(
            get_coverage_book(connection), settings=connection.app.state.coverage_settings
        )
        connection.app.state.dispatch_cost = found
    return found


SessionDep = Annotated[AsyncSession, Depends(get_session)]
DispatchCostDep = Annotated[DispatchCost, Depends(get_dispatch_cost)]
CoverageBookDep = Annotated[CoverageBook, Depends(get_coverage_book)]
HubDep = Annotated[Hub, Depends(get_realtime_hub)]
SocketAuthorityDep = Annotated[SocketAuthority, Depends(get_socket_authority)]
PositionIngestDep = Annotated[PositionIngest, Depends(get_position_ingest)]
RedisDep = Annotated[Redis, Depends(get_redis)]
LivePositionsDep = Annotated[LivePositions, Depends(get_live_positions)]
PresenceDep = Annotated[Presence, Depends(get_presence)]
SessionFactoryDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_session_factory)]
SyncEngineDep = Annotated[Engine, Depends(get_sync_engine)]
MessagingSettingsDep = Annotated[MessagingSettings, Depends(get_messaging_settings)]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]
DestinationsDep = Annotated[Destinations, Depends(get_destinations)]
EngineIfStartedDep = Annotated[AsyncEngine | None, Depends(get_engine)]
RedisIfStartedDep = Annotated[Redis | None, Depends(get_redis_if_started)]
LoadedDestinationsDep = Annotated[Destinations | None, Depends(get_loaded_destinations)]
IdentitySettingsDep = Annotated[IdentitySettings, Depends(get_identity_settings)]
DispatchSettingsDep = Annotated[DispatchSettings, Depends(get_dispatch_settings)]
CareSettingsDep = Annotated[CareSettings, Depends(get_care_settings)]
RealtimeSettingsDep = Annotated[RealtimeSettings, Depends(get_realtime_settings)]


#: ``request.state.claims`` not set: the app-wide access check did not run (a bare test app).
_UNCHECKED = object()


async def optional_claims(
    connection: HTTPConnection,
    settings: IdentitySettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> AccessClaims | None:
    """The caller's verified claims, or None for an anonymous caller (a bad token is still 401)."""
    # The app-wide access check has verified this very header already: no second decode.
    verified = getattr(connection.state, "claims", _UNCHECKED)
    if verified is not _UNCHECKED:
        return verified
    if credentials is None:
        return None
    return verify_access_token(credentials.credentials, settings=settings)


OptionalClaims = Annotated[AccessClaims | None, Depends(optional_claims)]


async def current_claims(claims: OptionalClaims) -> AccessClaims:
    """The caller's claims; 401 when no bearer token was sent.

    Which roles may call the route is declared once, in :data:`console_api.access.ROUTE_ACCESS`,
    and checked app-wide before the handler runs; a handler never names the action again.
    """
    if claims is None:
        raise Unauthenticated("a bearer token is required", code="missing_token")
    return claims


CurrentClaims = Annotated[AccessClaims, Depends(current_claims)]


def actor_of(claims: AccessClaims | None, *, fallback: str = "anonymous") -> Actor:
    """The audit-trail name of the caller."""
    if claims is None:
        return Actor(user_id=None, label=fallback)
    role = sorted(claims.roles)[0] if claims.roles else "user"
    return Actor(user_id=claims.user_id, label=f"{role}:{claims.user_id}")
