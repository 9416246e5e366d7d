"""Worker CPU per request, in one process: where the load run's cores go, endpoint by endpoint.

The load run (:mod:`bench.load`) says how many requests two workers serve; this says what each
costs, without sockets or other processes in the way: the app runs in this process (lifespan,
outbox relay, audit writer and hub included) on a private PostgreSQL and Redis, and each
endpoint is called ``--requests`` times in a row after a warm-up. CPU is this process's own
(``time.process_time``); the private PostgreSQL's (every process of its cluster, from /proc) is
shown beside it. The baseline, run in the same process, is ``GET /health/live`` (the framework's
floor) and ``GET /users/me`` (an authenticated, audited read: the tax every staff request pays).
The SOS is measured twice: as served, and with its address and duplicate-call lookups switched
off in this process (what those lookups cost an SOS).

    .venv/bin/python -m bench.request_cost --requests 300 --units 400
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp

from bench.load import choose_area, prepare_database, road_points
from tests.support.faults import OPERATOR_PASSWORD, create_operator
from tests.support.servers import PrivatePostgres, PrivateRedis

ROOT = Path(__file__).resolve().parents[1]
ACTIONS = ("triage", "dispatch", "arrive", "close")


def _prepare(pg: PrivatePostgres, rd: PrivateRedis, workdir: Path) -> tuple[str, str, str]:
    """Schema, region and an operator; returns (region name, operator email, TOTP secret)."""
    area = choose_area()
    os.environ.update(
        DATABASE_URL=pg.url, REDIS_URL=rd.url, LIFELINE_SMS_SENDER="false",
        LIFELINE_IDENTITY_SECRET_KEY="cost-" + uuid.uuid4().hex + uuid.uuid4().hex,
        LIFELINE_DATA_DIR=str(workdir), LIFELINE_REALTIME_STREAM_PREFIX=f"cost:{uuid.uuid4().hex}:",
        LIFELINE_IDENTITY_API_PER_MINUTE="100000000",  # one caller makes every request here
    )
    prepare_database(dict(os.environ), area)
    return (area.name, *create_operator(dict(os.environ)))


TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
PG_DATA: Path | None = None  # the private cluster's data directory, set by main()


def _pg_cpu_ms() -> float:
    """CPU time so far of the private PostgreSQL: its postmaster and every child (backends)."""
    if PG_DATA is None:
        return 0.0
    postmaster = int((PG_DATA / "postmaster.pid").read_text().split()[0])
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == postmaster or stat.parent.name == str(postmaster):
            total += int(fields[11]) + int(fields[12])
    return total * TICK_MS


async def _measure(
    call: Callable[[int], Awaitable[Any]], count: int
) -> tuple[float, float, float]:
    """(CPU ms, wall ms, PostgreSQL CPU ms) per call, the background work it caused included."""
    cpu, wall, pg = time.process_time(), time.perf_counter(), _pg_cpu_ms()
    for i in range(count):
        await call(i)
    await asyncio.sleep(0.3)  # the audit writer, relay and hub finish what the calls queued
    return ((time.process_time() - cpu) / count * 1000,
            (time.perf_counter() - wall - 0.3) / count * 1000,
            (_pg_cpu_ms() - pg) / count)


LOOKUPS = {"cpu_ms": 0.0, "wall_ms": 0.0, "calls": 0, "missed": 0}


@contextlib.contextmanager
def lookups_timed() -> Iterator[None]:
    """Time the SOS intake's address and duplicate lookups themselves (this process's CPU)."""
    from dispatch import service

    served = service.describe_place

    async def timed(*, db_session, case, request, now, settings):
        cpu, wall = time.process_time(), time.perf_counter()
        described = await served(
            db_session=db_session, case=case, request=request, now=now, settings=settings
        )
        LOOKUPS["cpu_ms"] += (time.process_time() - cpu) * 1000
        LOOKUPS["wall_ms"] += (time.perf_counter() - wall) * 1000
        LOOKUPS["calls"] += 1
        LOOKUPS["missed"] += not described
        return described

    service.describe_place = timed
    try:
        yield
    finally:
        service.describe_place = served


@contextlib.contextmanager
def lookups_off() -> Iterator[None]:
    """The SOS intake without its address and duplicate-call lookups (source only)."""
    from dispatch import service

    served = service.describe_place

    async def bare(*, db_session, case, request, now, settings):
        case.source = request.source
        return True

    service.describe_place = bare
    try:
        yield
    finally:
        service.describe_place = served


async def measure(args: argparse.Namespace, libpq: str, region: str, email: str,
                  secret: str) -> dict[str, Any]:
    from console_api.app import create_app

    points = road_points(libpq, region, 2000)
    app = create_app()
    figures: dict[str, dict[str, float]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            login = await http.post("/api/v1/auth/login", json={
                "email": email, "password": OPERATOR_PASSWORD, "totp": pyotp.TOTP(secret).now()})
            login.raise_for_status()
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            for i, (lat, lng) in enumerate(random.sample(points, args.units)):
                r = await http.post("/api/v1/units", headers=headers, json={
                    "call_sign": f"RC-{i:04d}", "type": "ALS", "station_lat": lat,
                    "station_lng": lng})
                r.raise_for_status()

            async def sos(_: int) -> str:
                lat, lng = random.choice(points)
                r = await http.post(
                    "/api/v1/emergency/cases", headers={"Idempotency-Key": uuid.uuid4().hex},
                    json={"lat": lat, "lng": lng, "symptom_category": "chest_pain",
                          "reporter_phone": f"+9230{random.randrange(10**8):08d}"})
                assert r.status_code == 201, r.text
                return r.json()["id"]

            for i in range(args.warmup):
                await sos(i)
            cases: list[str] = []

            async def sos_kept(i: int) -> None:
                cases.append(await sos(i))

            with lookups_timed():
                figures["POST /emergency/cases (SOS)"] = _row(
                    await _measure(sos_kept, args.requests))
            with lookups_off():
                figures["  same, address + duplicate lookups off"] = _row(
                    await _measure(sos, args.requests))

            async def read(i: int) -> None:  # the operator's view: ranked units, coverage cost
                r = await http.get(f"/api/v1/emergency/cases/{cases[i]}", headers=headers)
                assert r.status_code == 200, r.text

            figures["GET /cases/{id} (operator view)"] = _row(await _measure(read, args.requests))
            bodies = {"triage": {"severity": "high"}}
            for action in ACTIONS:
                async def act(i: int, action: str = action) -> None:
                    r = await http.post(f"/api/v1/emergency/cases/{cases[i]}/{action}",
                                        headers=headers, json=bodies.get(action, {}))
                    assert r.status_code == 200, (action, r.text)

                figures[f"POST /cases/{{id}}/{action}"] = _row(await _measure(act, args.requests))

            async def me(_: int) -> None:
                assert (await http.get("/api/v1/users/me", headers=headers)).status_code == 200

            async def live(_: int) -> None:
                assert (await http.get("/health/live")).status_code == 200

            figures["GET /users/me (baseline: audited read)"] = _row(
                await _measure(me, args.requests))
            figures["GET /health/live (baseline: floor)"] = _row(
                await _measure(live, args.requests))
    return figures


def _row(measured: tuple[float, float, float]) -> dict[str, float]:
    return {"cpu_ms": round(measured[0], 2), "wall_ms": round(measured[1], 2),
            "pg_cpu_ms": round(measured[2], 2)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="calls per endpoint")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--units", type=int, default=400, help="free ambulances to rank")
    parser.add_argument("--workdir", default="var/bench-cost")
    parser.add_argument("--out", default=str(ROOT / "docs" / "bench" / "request_cost.json"))
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    global PG_DATA
    pg, rd = PrivatePostgres(), PrivateRedis()
    PG_DATA = pg.data
    try:
        pg.init()
        rd.start()
        region, email, secret = _prepare(pg, rd, workdir)
        figures = asyncio.run(measure(args, pg.libpq, region, email, secret))
    finally:
        rd.kill()
        pg.destroy()
    floor = figures["GET /health/live (baseline: floor)"]["cpu_ms"]
    tax = figures["GET /users/me (baseline: audited read)"]["cpu_ms"]
    print(f"{'endpoint':44s} {'CPU ms':>8s} {'wall ms':>8s} {'x floor':>8s} "
          f"{'x audited read':>15s} {'PostgreSQL CPU ms':>18s}")
    for name, row in figures.items():
        print(f"{name:44s} {row['cpu_ms']:8.2f} {row['wall_ms']:8.2f} "
              f"{row['cpu_ms'] / floor:8.1f} {row['cpu_ms'] / tax:15.1f} {row['pg_cpu_ms']:18.2f}")
    calls = max(1, LOOKUPS["calls"])
    print(f"SOS address + duplicate lookups alone: {LOOKUPS['cpu_ms'] / calls:.2f} ms CPU, "
          f"{LOOKUPS['wall_ms'] / calls:.2f} ms wall per SOS; {LOOKUPS['missed']} of "
          f"{LOOKUPS['calls']} past the timeout (address filled in later)")
    print(f"(1-minute load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    result = {
        "region": region, "units": args.units, "requests": args.requests, "figures": figures,
        "sos_lookups": LOOKUPS,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.request_cost", *(argv or sys.argv[1:])]),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
