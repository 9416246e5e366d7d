"""Deadlocks and serialization failures are retried, then answered 409, never 503 (issue 18)."""

from __future__ import annotations

import httpx
import psycopg.errors
import pytest
from fastapi import FastAPI, Request
from sqlalchemy.exc import OperationalError

from console_api.problems import install_problem_handlers
from console_api.write_retry import RETRIES, RetryOnContention


def contended_app(failures: int, error: type[Exception]) -> tuple[FastAPI, list[bytes]]:
    """A write route whose first ``failures`` runs meet ``error`` inside PostgreSQL."""
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RetryOnContention)
    bodies: list[bytes] = []

    @app.post("/write")
    async def write(request: Request) -> dict:
        bodies.append(await request.body())
        if len(bodies) <= failures:
            raise OperationalError("INSERT ...", {}, error())
        return {"ok": True}

    return app, bodies


async def _post(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.post("/write", json={"slot": "09:00"})


@pytest.mark.parametrize("error", [psycopg.errors.DeadlockDetected,
                                   psycopg.errors.SerializationFailure])
async def test_a_deadlock_is_retried_with_the_same_body(error):
    app, bodies = contended_app(2, error)
    r = await _post(app)
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert len(bodies) == 3 and len(set(bodies)) == 1 and b"09:00" in bodies[0]


async def test_contention_that_persists_is_a_409_conflict_not_503():
    app, bodies = contended_app(100, psycopg.errors.DeadlockDetected)
    r = await _post(app)
    assert r.status_code == 409 and r.json()["code"] == "write_conflict"
    assert r.headers["content-type"] == "application/problem+json"
    assert len(bodies) == RETRIES + 1


async def test_an_unreachable_database_is_still_503():
    app, bodies = contended_app(100, psycopg.errors.AdminShutdown)
    r = await _post(app)
    assert r.status_code == 503 and r.json()["code"] == "database_unavailable"
    assert len(bodies) == 1
