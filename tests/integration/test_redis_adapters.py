"""The Redis adapters behind the domain's ports, against the real Redis (issue 22.2)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from data.errors import Unavailable
from dispatch.ports import LiveFix, LiveFixRead
from dispatch.position_ingest import recorded_us
from realtime.live_positions import LIVE_HASH, RedisLivePositions
from realtime.presence import RedisPresence


def _dead() -> aioredis.Redis:
    return aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)


async def test_live_positions_read_back_the_newest_fix_in_one_call(app):
    redis = app.state.redis
    prefix = f"lifeline:test:{uuid.uuid4().hex}:"
    live = RedisLivePositions(redis, stream_prefix=prefix, stream_maxlen=100,
                              stale_after_s=120.0)
    a, b, silent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at = datetime.now(UTC).replace(microsecond=123_456)
    fixes = [
        LiveFix(a, recorded_us(at - timedelta(seconds=5)), True, 60.1, 24.9, "{}"),
        LiveFix(a, recorded_us(at), True, 60.17, 24.94, "{}"),
        LiveFix(b, recorded_us(at), True, 60.2, 25.0, "{}"),
        # An older fix after a newer one never takes the live position back.
        LiveFix(b, recorded_us(at - timedelta(seconds=1)), True, 61.0, 26.0, "{}"),
    ]
    try:
        flags = await live.store(fixes, now_ms=int(at.timestamp() * 1000), at=at.isoformat(),
                                 trail_interval_us=1, trail_distance_m=0.0)
        assert [f >> 1 for f in flags] == [1, 1, 1, 0]
        assert await live.latest([a, silent, b]) == [
            LiveFixRead(at, 60.17, 24.94), None, LiveFixRead(at, 60.2, 25.0)]
        assert await live.latest([]) == []
    finally:
        await redis.hdel(LIVE_HASH, str(a), str(b))
        await redis.delete(*[k async for k in redis.scan_iter(f"{prefix}*")],
                           *[f"lifeline:unit:{u}:trail" for u in (a, b)])


async def test_live_positions_down_is_unavailable_never_a_redis_error():
    dead = _dead()
    live = RedisLivePositions(dead, stream_prefix="lifeline:test:dead:", stream_maxlen=100,
                              stale_after_s=120.0)
    try:
        with pytest.raises(Unavailable):
            await live.latest([uuid.uuid4()])
    finally:
        await dead.aclose()


async def test_presence_lives_one_ttl_refreshes_and_withdraws(app):
    redis = app.state.redis
    presence = RedisPresence(redis, prefix=f"lifeline:test:{uuid.uuid4().hex}:")
    doctor, hospital, nobody = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await presence.announce(doctor, state="busy", hospital_id=hospital, ttl_s=60)
    assert 55_000 < await redis.pttl(presence.key(doctor)) <= 60_000
    assert await presence.states([nobody, doctor]) == [None, "busy"]
    assert await presence.states([]) == []
    await redis.pexpire(presence.key(doctor), 500)
    assert await presence.refresh(doctor, ttl_s=60) is True  # a whole TTL again
    assert await redis.pttl(presence.key(doctor)) > 55_000
    await presence.withdraw(doctor)
    assert await presence.states([doctor]) == [None]
    assert await presence.refresh(doctor, ttl_s=60) is False  # nothing left to keep alive
    # Silence: Redis itself expires the presence.
    await presence.announce(doctor, state="available", hospital_id=None, ttl_s=60)
    await redis.pexpire(presence.key(doctor), 1)
    await asyncio.sleep(0.05)
    assert await presence.states([doctor]) == [None]
    assert await presence.refresh(doctor, ttl_s=60) is False


async def test_presence_down_is_unavailable_for_every_call():
    dead = _dead()
    presence = RedisPresence(dead, prefix="lifeline:test:dead:")
    doctor = uuid.uuid4()
    try:
        for call in (
            presence.announce(doctor, state="busy", hospital_id=None, ttl_s=5),
            presence.withdraw(doctor),
            presence.refresh(doctor, ttl_s=5),
            presence.states([doctor]),
        ):
            with pytest.raises(Unavailable):
                await call
    finally:
        await dead.aclose()
