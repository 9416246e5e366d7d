"""Starts and stops this worker's real-time machinery (hub reader, standby relay).

Takes the app duck-typed (``app.state``) so ``realtime`` stays free of the web framework.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from data.redis_client import redis_from_url
from data.settings import DataSettings
from realtime.authority import SocketAuthority
from realtime.hub import Hub, stop_task
from realtime.relay import Relay
from realtime.settings import RealtimeSettings

log = logging.getLogger("lifeline.realtime")

GOING_AWAY = 1012  # "service restart": clients reconnect (to another worker) and resume


async def start(
    app: Any, *, data_settings: DataSettings, settings: RealtimeSettings
) -> None:
    """Run the hub reader, and a relay that stands by for the lock unless disabled."""
    state = app.state
    # Own clients: XREAD BLOCK must not hit the shared client's 2 s socket timeout.
    hub_redis = redis_from_url(
        data_settings.redis_url,
        socket_timeout=settings.hub_block_ms / 1000 + 3,
        socket_connect_timeout=2,
    )
    relay_redis = redis_from_url(
        data_settings.redis_url, socket_timeout=3, socket_connect_timeout=2
    )
    hub = Hub(redis=hub_redis, engine=state.engine, settings=settings)
    state.realtime_settings = settings
    state.realtime_hub = hub
    state.realtime_redis = (hub_redis, relay_redis)
    state.socket_authority = SocketAuthority(
        redis=relay_redis,
        per_principal=settings.ws_per_principal,
        per_address=settings.ws_per_address,
        interval_s=settings.authority_check_seconds,
    )
    state.realtime_tasks = [
        asyncio.create_task(state.socket_authority.run(), name="socket-authority"),
        asyncio.create_task(hub.run(), name="realtime-hub"),
        asyncio.create_task(hub.run_ticker(), name="realtime-ticker"),
        asyncio.create_task(hub.run_coalescer(), name="realtime-coalescer"),
    ]
    state.realtime_relay = None
    if settings.relay_enabled:
        relay = Relay(
            database_url=data_settings.app_database_url, redis=relay_redis, settings=settings
        )
        state.realtime_relay = relay
        state.realtime_tasks.append(asyncio.create_task(relay.run(), name="realtime-relay"))


async def stop(app: Any) -> None:
    """Tell connections to go elsewhere, stop the tasks, close the Redis clients."""
    state = app.state
    hub: Hub | None = getattr(state, "realtime_hub", None)
    if hub is None:
        return
    hub.close_all(GOING_AWAY, "server shutting down")
    for task in state.realtime_tasks:
        await stop_task(task)
    for client in state.realtime_redis:
        await client.aclose()
