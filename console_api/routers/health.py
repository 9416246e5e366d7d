"""Liveness, readiness and dependencies' health, for load balancers and operators."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from console_api.deps import EngineIfStartedDep, LoadedDestinationsDep, RedisIfStartedDep
from console_api.responses import Health

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 2.0


async def _database_ok(engine: AsyncEngine | None) -> bool:
    if engine is None:
        return False
    try:
        async with engine.connect() as connection:
            await asyncio.wait_for(connection.execute(text("SELECT 1")), CHECK_TIMEOUT_S)
        return True
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        return False


async def _redis_ok(redis: Redis | None) -> bool:
    if redis is None:
        return False
    try:
        return bool(await asyncio.wait_for(redis.ping(), CHECK_TIMEOUT_S))
    except Exception:  # noqa: BLE001
        return False


@router.get("/health", response_model=Health, summary="Health of the API and its dependencies")
async def health(engine: EngineIfStartedDep, redis_client: RedisIfStartedDep) -> JSONResponse:
    """503 when the database is unreachable; Redis down only degrades (the outbox keeps events)."""
    database, redis = await asyncio.gather(_database_ok(engine), _redis_ok(redis_client))
    overall = "ok" if database and redis else ("degraded" if database else "unavailable")
    body = {
        "status": overall,
        "database": "ok" if database else "unreachable",
        "redis": "ok" if redis else "unreachable",
    }
    return JSONResponse(body, status_code=200 if database else 503)


@router.get("/health/live", response_model=Health, summary="Liveness: the process answers")
async def live() -> JSONResponse:
    """Restart me only when this fails: it checks nothing outside the process."""
    return JSONResponse({"status": "ok"})


@router.get("/health/ready", response_model=Health,
            summary="Readiness: database, Redis and road networks")
async def ready(
    engine: EngineIfStartedDep, redis_client: RedisIfStartedDep,
    destinations: LoadedDestinationsDep,
) -> JSONResponse:
    """Send me traffic only when the database and Redis answer and the road networks are loaded."""
    database, redis = await asyncio.gather(_database_ok(engine), _redis_ok(redis_client))
    routing = destinations is not None
    ok = database and redis and routing
    body = {
        "status": "ready" if ok else "not_ready",
        "database": "ok" if database else "unreachable",
        "redis": "ok" if redis else "unreachable",
        "routing": (
            f"{len(destinations.regions)} region(s) loaded" if routing else "not loaded"
        ),
    }
    return JSONResponse(body, status_code=200 if ok else 503)
