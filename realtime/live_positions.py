"""Live unit positions in Redis: the adapter behind dispatch.ports.LivePositions.

One Lua call per batch of fixes keeps each unit's newest live position, decides the
downsampled trail and publishes the live events, so a batch costs one round trip.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from data.errors import Unavailable
from data.events import UNIT_POSITION, Channel
from dispatch.ports import LiveFix, LiveFixRead
from dispatch.position_ingest import parse_live
from realtime import streams

#: The fleet's live positions: unit id -> "recorded_us|lat|lng" (newest fix wins).
LIVE_HASH = "lifeline:units:live"

# One call per batch. KEYS: position stream, its seq counter, the fleet's live hash. ARGV: stream
# maxlen, now (ms), event time, trail min interval (us), trail min distance (m), then six values
# per fix: unit id, recorded (us), live (1, or 0 when too old to be live), lat, lng, event json.
# Returns per fix 2 * live + trail. Per fix: the newest fix wins the unit's field of the live
# hash ("recorded_us|lat|lng": one HMGET reads a whole fleet); the trail keeps a point when the
# unit moved far enough or enough time passed; a live fix is published with the next seq (a
# missing counter starts at the Unix time in ms, so seq keeps rising across restarts). The trail
# keys are built here, not declared: fine on one Redis, not on Redis Cluster.
_INGEST_SCRIPT = """
local maxlen, now_ms, at = ARGV[1], ARGV[2], ARGV[3]
local interval, distance = tonumber(ARGV[4]), tonumber(ARGV[5])
local k = math.pi / 180
local out = {}
for i = 6, #ARGV, 6 do
  local unit, recorded = ARGV[i], tonumber(ARGV[i + 1])
  local fresh, lat, lng, event = ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local trail_key = 'lifeline:unit:' .. unit .. ':trail'
  local live = 0
  if fresh == '1' then
    local current = redis.call('HGET', KEYS[3], unit)
    if (not current) or tonumber(string.match(current, '^(%d+)')) < recorded then
      redis.call('HSET', KEYS[3], unit, ARGV[i + 1] .. '|' .. lat .. '|' .. lng)
      live = 1
    end
  end
  local trail = 1
  local last = redis.call('HMGET', trail_key, 'recorded_us', 'lat', 'lng')
  if last[1] then
    local last_us = tonumber(last[1])
    if recorded <= last_us then
      trail = 0
    else
      local lat1, lng1 = tonumber(last[2]), tonumber(last[3])
      local lat2, lng2 = tonumber(lat), tonumber(lng)
      local x = (lng2 - lng1) * k * math.cos((lat1 + lat2) * k / 2)
      local y = (lat2 - lat1) * k
      if (recorded - last_us) < interval and 6371000 * math.sqrt(x * x + y * y) < distance then
        trail = 0
      end
    end
  end
  if trail == 1 then
    redis.call('HSET', trail_key, 'recorded_us', ARGV[i + 1], 'lat', lat, 'lng', lng)
  end
  if live == 1 then
    local seq
    if redis.call('SETNX', KEYS[2], now_ms) == 1 then
      seq = tonumber(now_ms)
    else
      seq = redis.call('INCR', KEYS[2])
    end
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*',
               'seq', seq, 'type', 'CHANNEL', 'data', event, 'at', at)
  end
  out[#out + 1] = live * 2 + trail
end
return out
""".replace("'CHANNEL'", f"'{UNIT_POSITION.event_type}'")  # the channel's name


class RedisLivePositions:
    """Stores fixes with :data:`_INGEST_SCRIPT` (see :class:`dispatch.ports.LivePositions`)."""

    def __init__(
        self, redis: Redis, *, stream_prefix: str, stream_maxlen: int, stale_after_s: float
    ) -> None:
        self.redis = redis
        self.stale_after_s = stale_after_s
        self.stream_key = streams.stream_key(stream_prefix, Channel.UNIT_POSITION)
        self.counter_key = streams.counter_key(stream_prefix, Channel.UNIT_POSITION)
        self.stream_maxlen = stream_maxlen
        self._script = redis.register_script(_INGEST_SCRIPT)

    async def store(
        self,
        fixes: Sequence[LiveFix],
        *,
        now_ms: int,
        at: str,
        trail_interval_us: int,
        trail_distance_m: float,
    ) -> list[int]:
        """Per fix, ``2 * became_live + kept_on_trail``."""
        args: list[str | int] = [
            str(self.stream_maxlen), str(now_ms), at, str(trail_interval_us), str(trail_distance_m)
        ]
        for fix in fixes:
            args += [str(fix.unit_id), fix.recorded_us, "1" if fix.fresh else "0",
                     repr(fix.lat), repr(fix.lng), fix.event]
        try:
            replies = await self._script(
                keys=[self.stream_key, self.counter_key, LIVE_HASH], args=args
            )
        except RedisError as exc:
            raise Unavailable("live positions are unavailable; send the fixes again") from exc
        return [int(flags) for flags in replies]

    async def latest(self, unit_ids: Sequence[uuid.UUID]) -> list[LiveFixRead | None]:
        """Each unit's live fix from one HMGET of the live hash."""
        if not unit_ids:
            return []
        try:
            raws = await self.redis.hmget(LIVE_HASH, [str(unit_id) for unit_id in unit_ids])
        except RedisError as exc:
            raise Unavailable("live positions are unavailable") from exc
        fixes = [parse_live(raw) for raw in raws]
        return [None if fix is None else LiveFixRead(*fix) for fix in fixes]
