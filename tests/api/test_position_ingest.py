"""The batched GPS ingest against the real Redis and PostGIS: many fixes, few round trips."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from data.errors import Unavailable
from dispatch.models import UnitPosition
from dispatch.position_ingest import Fix, PositionIngest, UnitNotFound
from realtime.live_positions import RedisLivePositions
from tests.conftest import add_unit


async def test_a_burst_of_fixes_is_stored_in_a_few_flushes(app, client, operator):
    units = [uuid.UUID((await add_unit(client, operator.headers))["id"]) for _ in range(20)]
    ingest: PositionIngest = app.state.position_ingest
    before = ingest.flushes
    start = datetime.now(UTC) - timedelta(seconds=100)
    futures = [
        ingest.submit(Fix(unit_id=unit, lat=60.17 + i * 0.003, lng=24.94,
                          recorded_at=start + timedelta(seconds=10 * i)))
        for i in range(10) for unit in units
    ]
    results = await asyncio.gather(*futures)
    assert all(r.live for r in results)  # each fix is newer than the one before it
    assert all(r.trail_stored for r in results)  # 333 m apart: every one joins the trail
    assert ingest.flushes - before <= 10  # 200 fixes, not 200 round trips
    async with app.state.session_factory() as session:
        stored = await session.scalar(
            select(func.count()).select_from(UnitPosition).where(UnitPosition.unit_id.in_(units))
        )
    assert stored == 200


async def test_an_unknown_unit_fails_alone(app, client, operator):
    unit = uuid.UUID((await add_unit(client, operator.headers))["id"])
    ingest: PositionIngest = app.state.position_ingest
    now = datetime.now(UTC)
    good = ingest.submit(Fix(unit_id=unit, lat=60.17, lng=24.94, recorded_at=now))
    bad = ingest.submit(Fix(unit_id=uuid.uuid4(), lat=60.17, lng=24.94, recorded_at=now))
    assert (await good).live
    with pytest.raises(UnitNotFound):
        await bad
    r = await client.post(f"/api/v1/units/{uuid.uuid4()}/position", headers=operator.headers,
                          json={"lat": 60.17, "lng": 24.94, "recorded_at": now.isoformat()})
    assert r.status_code == 404 and r.json()["code"] == "unit_not_found"


async def test_without_redis_the_fixes_are_refused_as_unavailable(app, client, operator):
    import redis.asyncio as aioredis

    unit = uuid.UUID((await add_unit(client, operator.headers))["id"])
    dead = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    live = RedisLivePositions(dead, stream_prefix="lifeline:test:dead:", stream_maxlen=100,
                              stale_after_s=120.0)
    ingest = PositionIngest(
        live=live, session_factory=app.state.session_factory,
        settings=app.state.dispatch_settings,
    )
    with pytest.raises(Unavailable):
        await ingest.record(Fix(unit_id=unit, lat=60.17, lng=24.94, recorded_at=datetime.now(UTC)))
    await dead.aclose()


async def test_a_deadlocked_trail_write_is_run_again_not_refused(app, client, operator,
                                                                 database_url):
    """Issue 18.4: contention is not an outage, for GPS fixes too.

    Another transaction holds unit B and then wants unit A, while the ingest holds A (units are
    updated in id order) and waits for B: PostgreSQL aborts the first waiter, the ingest. Before,
    that answered every fix of the batch 503; now only the trail write runs again.
    """
    import psycopg

    a, b = sorted([uuid.UUID((await add_unit(client, operator.headers))["id"]) for _ in range(2)])
    ingest: PositionIngest = app.state.position_ingest
    now = datetime.now(UTC)
    libpq = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(libpq) as other:
        await other.execute("UPDATE units SET updated_at = updated_at WHERE id = %s", (b,))
        fixes = [ingest.submit(Fix(unit_id=u, lat=60.17, lng=24.94, recorded_at=now))
                 for u in (a, b)]
        async with await psycopg.AsyncConnection.connect(libpq, autocommit=True) as watch:
            await _until_a_backend_waits_for_a_lock(watch)  # the ingest holds A, waits for B
        # Wanting A closes the cycle; the ingest, waiting longer, detects it and is aborted.
        await other.execute("UPDATE units SET updated_at = updated_at WHERE id = %s", (a,))
        await other.commit()
    results = await asyncio.wait_for(asyncio.gather(*fixes), timeout=30)
    assert all(r.trail_stored for r in results)
    async with app.state.session_factory() as session:
        stored = await session.scalar(
            select(func.count()).select_from(UnitPosition).where(UnitPosition.unit_id.in_([a, b]))
        )
    assert stored == 2


async def _until_a_backend_waits_for_a_lock(conn, deadline_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while loop.time() < end:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if (await cur.fetchone())[0]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the ingest never waited for the locked unit")
