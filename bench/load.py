"""Mixed load against ``lifeline serve --workers 2`` on loopback, bounded in rate, count and time.

SOS intake (with recommendations), operators triaging and dispatching, GPS pings from simulated
ambulances and connected console WebSockets, all at once, on a private PostgreSQL cluster and
Redis holding the Islamabad region (``../shared/data/osm``; the Helsinki demo region when that
is absent). Writes the raw figures to ``docs/bench/load.json``; ``bench/report.py`` renders them.

    .venv/bin/python -m bench.load --seconds 30 --sos-rate 50 --ping-rate 200 --consoles 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from websockets.asyncio.client import connect

from bench.faults import Api, PrivatePostgres, PrivateRedis, operator_token

ROOT = Path(__file__).resolve().parents[1]
SHARED_OSM = Path(os.environ.get("LIFELINE_SHARED_OSM", "/work/shared/data/osm"))
CASES_CHANNEL = "emergency.case.updated"


@dataclass(frozen=True)
class Area:
    """The region the load runs in: its name, import arguments and where incidents happen."""

    name: str
    pbf: str | None
    bbox: tuple[float, float, float, float]  # south, west, north, east


def choose_area() -> Area:
    islamabad = SHARED_OSM / "islamabad-2020.osm.pbf"
    if islamabad.exists():
        return Area("islamabad", str(islamabad), (33.58, 72.95, 33.74, 73.15))
    return Area("helsinki", None, (60.165, 24.936, 60.178, 24.952))


@dataclass
class Recorder:
    """Every request with its endpoint, start, latency and status; console receipts."""

    t0: float = field(default_factory=time.monotonic)
    requests: list[tuple[str, float, float, int]] = field(default_factory=list)
    raised_at: dict[str, float] = field(default_factory=dict)
    receipts: list[float] = field(default_factory=list)
    resources: list[dict[str, float]] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shed: int = 0

    def now(self) -> float:
        return time.monotonic() - self.t0


async def timed(rec: Recorder, http: httpx.AsyncClient, label: str, method: str, url: str,
                **kwargs: Any) -> httpx.Response | None:
    start = rec.now()
    try:
        response = await http.request(method, url, **kwargs)
        status = response.status_code
    except httpx.HTTPError:
        response, status = None, 0
    rec.requests.append((label, start, rec.now() - start, status))
    return response


def _point(area: Area) -> tuple[float, float]:
    south, west, north, east = area.bbox
    return random.uniform(south, north), random.uniform(west, east)


async def operator_flow(rec: Recorder, http: httpx.AsyncClient, headers: dict[str, str],
                        case_id: str) -> None:
    """Triage, dispatch, arrival and closing of one case, as an operator would."""
    base = f"/api/v1/emergency/cases/{case_id}"
    r = await timed(rec, http, "triage", "POST", base + "/triage",
                    json={"severity": random.choice(["medium", "high", "critical"])},
                    headers=headers)
    if r is None or r.status_code != 200:
        return
    r = await timed(rec, http, "dispatch", "POST", base + "/dispatch", json={}, headers=headers)
    if r is None or r.status_code != 200:
        if r is not None and r.status_code == 409:
            rec.outcomes["dispatch_no_unit"] += 1
        return
    await asyncio.sleep(random.uniform(0.5, 2.0))
    r = await timed(rec, http, "arrive", "POST", base + "/arrive", json={}, headers=headers)
    if r is not None and r.status_code == 200:
        await timed(rec, http, "close", "POST", base + "/close", json={}, headers=headers)


async def sos_load(rec: Recorder, http: httpx.AsyncClient, area: Area, *, rate: float,
                   seconds: float, operator_share: float, operators: list[dict[str, str]],
                   max_in_flight: int) -> None:
    """Open-loop SOS arrivals at ``rate`` per second; a share goes on to the operators.

    Each case is worked by one of ``operators`` (round robin): a dispatch room has several
    people, each under the per-caller request limit.
    """
    tasks: set[asyncio.Task] = set()
    in_flight = asyncio.Semaphore(max_in_flight)

    async def one(n: int) -> None:
        async with in_flight:
            lat, lng = _point(area)
            phone = f"+92300{n % 10_000_000:07d}"
            r = await timed(rec, http, "sos", "POST", "/api/v1/emergency/cases",
                            json={"lat": lat, "lng": lng, "symptom_category": "chest_pain",
                                  "reporter_phone": phone},
                            headers={"Idempotency-Key": str(uuid.uuid4())})
        if r is not None and r.status_code == 201 and random.random() < operator_share:
            await operator_flow(rec, http, operators[n % len(operators)], r.json()["id"])

    n, start = 0, time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate)
        while n < due:
            n += 1
            if in_flight.locked():
                rec.shed += 1  # the generator will not queue unboundedly: counted, not sent
                continue
            task = asyncio.create_task(one(n + random.randrange(10**6) * 10))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.005)
    await asyncio.gather(*tasks, return_exceptions=True)


async def ping_load(rec: Recorder, http: httpx.AsyncClient, units: list[str], area: Area, *,
                    rate: float, seconds: float, headers: dict[str, str],
                    max_in_flight: int) -> None:
    """GPS fixes from every unit in turn at ``rate`` per second."""
    tasks: set[asyncio.Task] = set()
    in_flight = asyncio.Semaphore(max_in_flight)

    where = {unit_id: _point(area) for unit_id in units}

    async def one(unit_id: str) -> None:
        async with in_flight:
            # An ambulance moves ~15 m between fixes, so most pings stay in Redis (the trail
            # in PostgreSQL is downsampled); teleporting units would make every ping a DB write.
            lat, lng = where[unit_id]
            lat, lng = lat + random.uniform(-1e-4, 1e-4), lng + random.uniform(-1e-4, 1e-4)
            where[unit_id] = (lat, lng)
            await timed(rec, http, "gps_ping", "POST", f"/api/v1/units/{unit_id}/position",
                        json={"lat": lat, "lng": lng, "speed": 12.5, "heading": 90.0,
                              "recorded_at": datetime.now(UTC).isoformat()},
                        headers=headers)

    n, start = 0, time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate)
        while n < due:
            n += 1
            if in_flight.locked():
                rec.shed += 1
                continue
            task = asyncio.create_task(one(units[n % len(units)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.005)
    await asyncio.gather(*tasks, return_exceptions=True)


async def console(url: str, token: str, stop, receipts: list[float], connected: list[int]) -> None:
    """One console socket subscribed to every case; records how long each new case took."""
    with contextlib.suppress(Exception):
        async with connect(f"{url}?token={token}", open_timeout=60, max_queue=None) as ws:
            await ws.send(json.dumps({"type": "subscribe", "channel": CASES_CHANNEL,
                                      "filters": {}}))
            connected[0] += 1
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                received = time.time()
                if '"case.raise"' not in raw:
                    continue
                message = json.loads(raw)
                raised = datetime.fromisoformat(message["data"]["raised_at"])
                receipts.append(received - raised.timestamp())


def consoles_process(url: str, token: str, count: int, ready, stop, out: str) -> None:
    """The consoles live in their own process, so their traffic does not slow the HTTP clock."""

    async def main() -> None:
        receipts: list[float] = []
        connected = [0]
        tasks = [asyncio.create_task(console(url, token, stop, receipts, connected))
                 for _ in range(count)]
        deadline = time.monotonic() + 90
        while connected[0] < count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        Path(out + ".connected").write_text(str(connected[0]))
        ready.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        Path(out).write_text(json.dumps(receipts))

    asyncio.run(main())


async def sample_resources(rec: Recorder, api: Api, stop: asyncio.Event) -> None:
    """CPU (percent of one core) and RSS of the API's processes and of the HTTP generator."""
    me = psutil.Process()
    procs: dict[int, psutil.Process] = {}
    while not stop.is_set():
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(api.process.pid)
            for p in [root, *root.children(recursive=True)]:
                if p.pid not in procs:
                    procs[p.pid] = p
                    p.cpu_percent(None)
            cpu = rss = 0.0
            for pid, p in list(procs.items()):
                try:
                    cpu += p.cpu_percent(None)
                    rss += p.memory_info().rss
                except psutil.Error:
                    procs.pop(pid)
            rec.resources.append({"t": rec.now(), "api_cpu_pct": cpu, "api_rss_mb": rss / 2**20,
                                  "generator_cpu_pct": me.cpu_percent(None),
                                  "load1": os.getloadavg()[0]})
        await asyncio.sleep(1.0)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    arr = np.asarray(values) * 1000
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {"count": len(values), "p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2),
            "p99_ms": round(float(p99), 2), "max_ms": round(float(arr.max()), 2)}


def histogram_ms(values: list[float], bin_ms: float = 50.0) -> dict[str, Any]:
    """Delays (s) counted in ``bin_ms`` bins: enough for the plot, small enough for the repo."""
    if not values:
        return {"bin_ms": bin_ms, "counts": []}
    bins = np.floor(np.maximum(np.asarray(values) * 1000, 0) / bin_ms).astype(int)
    return {"bin_ms": bin_ms, "counts": np.bincount(bins).tolist()}


def summarise(rec: Recorder, seconds: float) -> dict[str, Any]:
    by_label: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for label, start, latency, status in rec.requests:
        by_label[label].append((start, latency, status))
    # Work queued in the generator drains after the offered duration: rates are per second of
    # activity (first request to last completion), not per offered second.
    span = max((start + latency for _, start, latency, _ in rec.requests), default=seconds)
    endpoints = {}
    for label, rows in sorted(by_label.items()):
        ok = [lat for _, lat, status in rows if 200 <= status < 300]
        statuses: dict[str, int] = defaultdict(int)
        for _, _, status in rows:
            statuses[str(status)] += 1
        endpoints[label] = {
            **percentiles(ok),
            "throughput_per_s": round(len(ok) / max(span, seconds), 1),
            "errors": sum(1 for _, _, s in rows if s == 0 or s >= 500),
            "statuses": dict(statuses),
        }
    series = defaultdict(lambda: defaultdict(list))
    for label, start, latency, status in rec.requests:
        if 200 <= status < 300:
            series[label][int(start)].append(latency)
    over_time = {
        label: [{"second": s, **percentiles(v)} for s, v in sorted(buckets.items())]
        for label, buckets in series.items()
    }
    return {"endpoints": endpoints, "over_time": over_time, "active_s": round(span, 1),
            "propagation": percentiles(rec.receipts),
            "propagation_histogram": histogram_ms(rec.receipts),
            "resources": rec.resources, "outcomes": dict(rec.outcomes), "shed": rec.shed}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    area = choose_area()
    pg, rd = PrivatePostgres(), PrivateRedis()
    api: Api | None = None
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    setup: dict[str, float] = {}
    try:
        t = time.monotonic()
        pg.init()
        rd.start()
        env = dict(os.environ)
        env.update(DATABASE_URL=pg.url, REDIS_URL=rd.url,
                   LIFELINE_SECRET_KEY="load-" + uuid.uuid4().hex + uuid.uuid4().hex,
                   LIFELINE_DATA_DIR=str(workdir), LIFELINE_SMS_SENDER="false",
                   LIFELINE_STREAM_PREFIX=f"load:{uuid.uuid4().hex}:", PYTHONPATH=str(ROOT),
                   LIFELINE_DB_POOL_SIZE="20")
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        lifeline = str(Path(sys.executable).with_name("lifeline"))
        subprocess.run([lifeline, "db", "upgrade"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        setup["database_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        if area.pbf:
            command = [lifeline, "region", "import", "--pbf", area.pbf, "--name", area.name]
        else:
            command = [lifeline, "region", "import-demo"]
        subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
        setup["region_import_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        api = Api(env, workers=2)
        api.start(workdir / "api.log")
        await asyncio.to_thread(api.wait_ready, 300)
        setup["api_ready_s"] = round(time.monotonic() - t, 1)
        tokens = [await operator_token(api.http, env) for _ in range(args.operators)]
        token = tokens[0]
        headers = {"Authorization": f"Bearer {token}"}
        operators = [{"Authorization": f"Bearer {t}"} for t in tokens]
        limits = httpx.Limits(max_connections=args.max_in_flight * 2 + 50,
                              max_keepalive_connections=args.max_in_flight * 2)
        async with httpx.AsyncClient(base_url=api.http, timeout=30, limits=limits) as http:
            units = []
            for i in range(args.units):
                lat, lng = _point(area)
                r = await http.post("/api/v1/units", headers=headers, json={
                    "call_sign": f"LD-{i:03d}", "type": "ALS" if i % 3 else "BLS",
                    "station_lat": lat, "station_lng": lng})
                r.raise_for_status()
                units.append(r.json()["id"])
            rec = Recorder()
            stop = asyncio.Event()
            spawn = multiprocessing.get_context("spawn")
            ready, stop_consoles = spawn.Event(), spawn.Event()
            receipts_path = str(workdir / "receipts.json")
            consoles = spawn.Process(
                target=consoles_process,
                args=(api.ws, token, args.consoles, ready, stop_consoles, receipts_path),
            )
            consoles.start()
            await asyncio.to_thread(ready.wait, 120)
            setup["consoles_connected"] = int(Path(receipts_path + ".connected").read_text())
            rec.t0 = time.monotonic()
            sampler = asyncio.create_task(sample_resources(rec, api, stop))
            await asyncio.gather(
                sos_load(rec, http, area, rate=args.sos_rate, seconds=args.seconds,
                         operator_share=args.operator_share, operators=operators,
                         max_in_flight=args.max_in_flight),
                ping_load(rec, http, units, area, rate=args.ping_rate, seconds=args.seconds,
                          headers=headers, max_in_flight=args.max_in_flight),
            )
            await asyncio.sleep(2.0)  # let the last events reach the consoles
            stop.set()
            stop_consoles.set()
            await asyncio.to_thread(consoles.join, 60)
            if consoles.is_alive():
                consoles.kill()
            rec.receipts = json.loads(Path(receipts_path).read_text())
            await sampler
            metrics = (await http.get("/metrics")).text
        result = summarise(rec, args.seconds)
        (workdir / "metrics.txt").write_text(metrics)
        result.update(
            region=area.name, setup=setup,
            offered={"sos_per_s": args.sos_rate, "pings_per_s": args.ping_rate,
                     "consoles": args.consoles, "operator_share": args.operator_share,
                     "seconds": args.seconds, "units": args.units},
            machine={"cpus": os.cpu_count(), "platform": platform.platform(),
                     "python": platform.python_version(),
                     "uptime_before": args.uptime_before, "uptime_after": _uptime()},
            command=" ".join(["python -m bench.load", *sys.argv[1:]]),
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        return result
    finally:
        if api is not None:
            api.stop()
        rd.kill()
        pg.destroy()


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--sos-rate", type=float, default=50)
    parser.add_argument("--ping-rate", type=float, default=200)
    parser.add_argument("--consoles", type=int, default=500)
    parser.add_argument("--units", type=int, default=60)
    parser.add_argument("--operator-share", type=float, default=0.2)
    parser.add_argument("--operators", type=int, default=8,
                        help="operator accounts working the cases (round robin)")
    parser.add_argument("--max-in-flight", type=int, default=100)
    parser.add_argument("--workdir", default="var/bench")
    parser.add_argument("--out", default=str(ROOT / "docs" / "bench" / "load.json"))
    args = parser.parse_args()
    args.uptime_before = _uptime()
    result = asyncio.run(run(args))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    brief = {k: v for k, v in result.items() if k not in ("over_time", "propagation_samples_ms",
                                                          "resources")}
    print(json.dumps(brief, indent=1))


if __name__ == "__main__":
    main()
