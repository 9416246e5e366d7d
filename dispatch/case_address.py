"""The address and duplicate flag of a new case, never at the cost of the SOS itself.

Both are extra queries on the intake path. They run in a savepoint under a statement timeout
(``LIFELINE_DISPATCH_INTAKE_LOOKUP_MS``), which is always rolled back (they only read: that undoes
the timeout too, one statement fewer than restoring it): slow (a lock held by a region re-import, a
cold cache) or failing, the SOS is accepted without them. A missing address is filled in after
the commit by a background task, with its own audit row and outbox event, so the console shows it
when it comes.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from data.base import utcnow
from geocoding.reverse import address_of

T = TypeVar("T")
log = logging.getLogger("lifeline.intake")

SET_TIMEOUT = text("SELECT set_config('statement_timeout', :ms, true)")
#: Later tries (off the request path) may wait longer, and a few times.
LATER_TIMEOUT_MS = 5000
LATER_DELAYS_S = (0.5, 2.0, 5.0, 15.0, 60.0)

_pending: set[asyncio.Task[None]] = set()


class Missed:
    """A lookup that did not answer in time (or failed): the case goes on without it."""

    def __bool__(self) -> bool:
        return False


MISSED = Missed()


async def within(
    *,
    db_session: AsyncSession, lookup: Callable[[], Awaitable[T]], timeout_ms: int, what: str
) -> T | Missed:
    """``lookup()`` (reads only) in a savepoint under a statement timeout, then rolled back;
    :data:`MISSED` if it failed."""
    savepoint = await db_session.begin_nested()
    try:
        await db_session.execute(SET_TIMEOUT, {"ms": str(timeout_ms)})
        return await lookup()
    except DBAPIError as exc:
        log.warning("intake %s skipped: %s", what, type(exc.orig).__name__)
        return MISSED
    finally:
        await savepoint.rollback()


def fill_address_later(engine: AsyncEngine, case_id: uuid.UUID, lat: float, lng: float) -> None:
    """After the SOS is committed: find its address off the request path, then record it."""
    task = asyncio.get_running_loop().create_task(_fill(engine, case_id, lat, lng))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _fill(engine: AsyncEngine, case_id: uuid.UUID, lat: float, lng: float) -> None:
    from dispatch.case_events import Actor, add_case_event
    from dispatch.models import EmergencyCase

    for delay in LATER_DELAYS_S:
        await asyncio.sleep(delay)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                await session.execute(SET_TIMEOUT, {"ms": str(LATER_TIMEOUT_MS)})
                label = await address_of(session, lat=lat, lng=lng)
                case = await session.get(EmergencyCase, case_id)
                if case is None or case.address or label is None:
                    return
                case.address = label
                add_case_event(db_session=session, case=case, action="address",
                               from_status=case.status,
                               actor=Actor(user_id=None, label="geocoder"), reason=None,
                               at=utcnow(), details={"address": label})
                await session.commit()
                return
        except (DBAPIError, StaleDataError) as exc:
            log.warning("address of case %s not found yet: %s", case_id, type(exc).__name__)
    log.warning("address of case %s given up after %d tries", case_id, len(LATER_DELAYS_S))


async def settle() -> None:
    """Wait for the addresses being filled in (tests, shutdown)."""
    if _pending:
        await asyncio.gather(*_pending, return_exceptions=True)


__all__ = ["MISSED", "Missed", "fill_address_later", "settle", "within"]
