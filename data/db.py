"""Engines and sessions: async for the service, sync for the CLI and bulk imports."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import orjson
from psycopg import errors as pg_errors
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

from data.settings import DataSettings, get_data_settings


def sync_url(url: str) -> str:
    """Both engines use psycopg 3; normalise bare postgresql:// URLs to it.

    A libpq multi-host URL (``postgresql://u@h1:5432,h2:5432/db?target_session_attrs=
    read-write``, the high-availability setup of docs/scaling.md) is rewritten to SQLAlchemy's
    spelling of the same thing (``...@/db?host=h1:5432&host=h2:5432&...``); libpq still picks
    the host, so it follows the primary.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    elif url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    return _multi_host_as_query(url)


def _multi_host_as_query(url: str) -> str:
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return url
    query = [f"host={host}" for host in hosts.split(",")]
    if parts.query:
        query.append(parts.query)
    query = "&".join(query)
    return urlunsplit(parts._replace(netloc=userinfo + at, query=query))


@event.listens_for(Engine, "handle_error")
def _read_only_is_a_lost_primary(context) -> None:  # SQLAlchemy's event API
    """A write refused as read-only means this connection's server was demoted (a failover
    or switchover): drop the pool like on a disconnect, so the next checkout finds the new
    primary (libpq ``target_session_attrs=read-write``) instead of failing forever."""
    if isinstance(context.original_exception, pg_errors.ReadOnlySqlTransaction):
        context.is_disconnect = True


def json_text(value: object) -> str:
    """JSON for JSONB columns: orjson, ~5x faster than json.dumps on a case's recommendation."""
    return orjson.dumps(value).decode()


def make_async_engine(
    settings: DataSettings | None = None, *, as_app: bool = False, url: str | None = None
) -> AsyncEngine:
    """One engine per process (or per app instance in tests, since it binds to an event loop).

    ``as_app``: connect as the server's least-privilege role instead of DATABASE_URL's owner.
    ``url`` overrides both (the standby reads' engine).
    """
    settings = settings or get_data_settings()
    return create_async_engine(
        sync_url(url or (settings.app_database_url if as_app else settings.database_url)),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # No ping per checkout (a round trip and ~0.5 ms of CPU on every transaction): a
        # connection found dead answers 503 once, the pool then drops every connection older
        # than the failure, and clients retry (SOS with their Idempotency-Key).
        pool_pre_ping=False,
        json_serializer=json_text,
        json_deserializer=orjson.loads,  # every case read parses its stored recommendation
    )


def make_sync_engine(settings: DataSettings | None = None, *, as_app: bool = False) -> Engine:
    """Used by the CLI, imports and the benchmarks, which do not run an event loop."""
    settings = settings or get_data_settings()
    url = settings.app_database_url if as_app else settings.database_url
    return create_engine(sync_url(url), pool_pre_ping=True, json_deserializer=orjson.loads)


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions keep loaded attributes after commit so responses can be built from them."""
    return async_sessionmaker(engine, expire_on_commit=False)


def sync_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sync twin of :func:`async_session_factory`."""
    return sessionmaker(engine, expire_on_commit=False)
