"""Push the coverage figure on ``coverage.updated`` whenever a unit's status changes."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from data.events import (
    COVERAGE_SUMMARY,
    UNIT_STATUS,
    CoverageSummary,
    CoverageTrigger,
    UnitStatusChanged,
)
from data.outbox import OutboxEvent, record_event
from dispatch.ports import LivePositions
from fleet_coverage import figures, service
from fleet_coverage.settings import CoverageSettings

log = logging.getLogger("lifeline.coverage")


async def publish_summaries(
    *,
    db_session: AsyncSession, live_fleet: LivePositions, book: service.CoverageBook,
    settings: CoverageSettings, reason: CoverageTrigger,
) -> int:
    """Recompute every served region's coverage and add one outbox event each (caller commits)."""
    count = 0
    for region in sorted(book.destinations.regions):
        demand = await service.load_demand(db_session=db_session, region=region)
        state = await asyncio.to_thread(book.state, region, demand, settings)
        units = await service.free_fleet(
            db_session=db_session, live_fleet=live_fleet, network=state.network
        )
        summary = await asyncio.to_thread(
            figures.coverage_summary, state, units, settings.minutes
        )
        # figures.coverage_summary's dict is the summary's figures; the trigger completes it.
        payload = cast(CoverageSummary, {**summary, **reason})
        record_event(
            db_session, channel=COVERAGE_SUMMARY.channel, event_type=COVERAGE_SUMMARY.event_type,
            aggregate_type="region", aggregate_id=region, payload=payload,
        )
        count += 1
    return count


async def warm(*, db_session: AsyncSession, book: service.CoverageBook,
               settings: CoverageSettings) -> None:
    """Build each region's grid and folded graph before an operator asks (a no-op unless the
    road weights changed: a closure)."""
    for region in sorted(book.destinations.regions):
        demand = await service.load_demand(db_session=db_session, region=region)
        state = await asyncio.to_thread(book.state, region, demand, settings)
        await asyncio.to_thread(state.reach(settings.minutes * 60.0, ()).prepare)
        await asyncio.to_thread(state.rings)


async def watch(
    session_factory: async_sessionmaker[AsyncSession],
    live_fleet: LivePositions,
    book: service.CoverageBook,
    *,
    settings: CoverageSettings,
) -> None:
    """Poll the outbox for unit status events; after any, publish fresh coverage figures.

    The figure is recomputed whole, so an event seen late (committed out of id order) only
    delays the next push; several workers may each push the same figure, which is harmless.
    """
    cursor: int | None = None
    first = True
    while True:
        if not first:  # the first pass at once: the cursor starts where the app started
            await asyncio.sleep(settings.watch_seconds)
        first = False
        try:
            async with session_factory() as session:
                if cursor is None:  # where to start first: a change while warming is seen
                    cursor = int(await session.scalar(select(func.max(OutboxEvent.id))) or 0)
                await warm(db_session=session, book=book,
                           settings=settings)  # at start-up and after each closure
                rows = (await session.execute(
                    select(OutboxEvent.id, OutboxEvent.payload)
                    .where(OutboxEvent.channel == UNIT_STATUS.channel, OutboxEvent.id > cursor)
                    .order_by(OutboxEvent.id)
                )).all()
                if not rows:
                    continue
                cursor = int(rows[-1][0])
                book.generation += 1
                last = cast(UnitStatusChanged, rows[-1][1])
                await publish_summaries(
                    db_session=session, live_fleet=live_fleet, book=book, settings=settings,
                    reason={"trigger": UNIT_STATUS.event_type, "unit_id": last["unit_id"],
                            "status": last["status"]},
                )
                await session.commit()
        except asyncio.CancelledError:
            raise
        except Exception:  # keep watching on the next tick
            log.exception("coverage push failed; retrying")
