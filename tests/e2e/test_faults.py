"""A short run of bench/faults.py: nothing acknowledged is lost, nothing is stored twice or unasked.

Private PostgreSQL cluster, private Redis and ``lifeline serve --workers 2``; while clients keep
raising SOS with retries, Redis is killed and restarted, the worker holding the console socket is
``kill -9``ed, PostgreSQL crashes and restarts, and the API's database connections are slowed
and then reset by a proxy.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.exc import OperationalError

from console_api.problems import install_problem_handlers
from tests.support.faults import Plan, run

pytestmark = pytest.mark.timeout(240)


async def test_sos_survive_redis_worker_and_postgres_failures(tmp_path):
    result = await run(clients=3, plan=Plan(), workdir=tmp_path)

    assert result["acknowledged"] > 50, result
    assert result["lost"] == []
    assert result["unexpected"] == []
    assert result["duplicated"] == []
    assert result["ack_for_other_case"] == []
    # Every stored case reached the console once, across a reconnect to the other worker.
    assert result["undelivered"] == []
    assert result["delivered_twice"] == []
    assert result["duplicate_seqs"] == 0
    faults = [f["fault"] for f in result["faults"]]
    assert faults[:-1] == ["redis_killed", "redis_back", "worker_killed", "worker_replaced",
                           "pg_crashed", "worker_killed_during_db_outage", "pg_back", "db_slow",
                           "db_connections_reset"]
    for name, seconds in result["recovery_s"].items():
        assert seconds is not None and seconds < 5.0, (name, result["recovery_s"])
    # The counters of both workers (one of them killed) are aggregated, never over-counted.
    created = result["metrics_sos_created"].get("created", 0)
    assert 0 < created <= result["stored"]


async def test_an_unreachable_database_is_a_retryable_503():
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    async def boom():
        raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get("/boom")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "database_unavailable"
