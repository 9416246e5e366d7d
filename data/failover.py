"""Retry a unit of work once when its database connection died under it (a primary failover).

An acknowledged SOS must survive the loss of the primary, and a caller should not have to
see the failover at all when the standby is already promoted. The work is retried once on a
fresh session: the pool was invalidated by the failure, so libpq's ``target_session_attrs=
read-write`` finds the new primary. The work must be idempotent (the SOS is, by its
Idempotency-Key): a commit that reached the old primary before it died is answered as a
replay, never stored twice. A second failure goes to the caller as a retryable 503.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("lifeline.failover")
T = TypeVar("T")


def lost_connection(exc: BaseException) -> bool:
    """Whether ``exc`` means the server went away (or was demoted), not that the SQL was wrong."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def retry_once_on_failover(
    db_session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
) -> T:
    """``await work(db_session)``; if the connection was lost, once more on a new session."""
    try:
        return await work(db_session)
    except DBAPIError as exc:
        if not lost_connection(exc):
            raise
        log.warning("database connection lost (%s); retrying once", type(exc.orig).__name__)
    with contextlib.suppress(DBAPIError):
        await db_session.rollback()
    async with session_factory() as retry_session:
        return await work(retry_session)
