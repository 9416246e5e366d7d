"""Mixed load against ``lifeline serve --workers 2`` on loopback, bounded in rate, count and time.

SOS intake (with recommendations), operators triaging and dispatching, GPS fixes from simulated
ambulances (each on its own ``/ws/telemetry`` socket) and console WebSockets (batched frames,
subscribed to cases and unit positions), all at once, on a private PostgreSQL cluster and Redis
holding the Islamabad region (``../shared/data/osm``; the Helsinki demo region when that is
absent). The generator runs as three processes (:mod:`bench.loadgen`) while this one sets up,
samples CPU and memory, and summarises. Writes the raw figures to ``docs/bench/load.json``;
``bench/report.py`` renders them.

    .venv/bin/python -m bench.load --seconds 30 --sos-rate 50 --ping-rate 2000 --consoles 500
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import psycopg

from bench import loadgen
from tests.support.faults import operator_token
from tests.support.servers import PrivatePostgres, PrivateRedis, Server

ROOT = Path(__file__).resolve().parents[1]
#: City extracts beside the checkout (``../shared/data/osm``), or wherever ``--osm-dir`` says.
SHARED_OSM = ROOT.parent / "shared" / "data" / "osm"
UNIT_LIMIT_PER_S = 10  # the server refuses a unit's fixes beyond this rate
GENERATORS = ("http", "telemetry", "consoles")


@dataclass(frozen=True)
class Area:
    """The region the load runs in: its name, import arguments and where incidents happen."""

    name: str
    pbf: str | None
    bbox: tuple[float, float, float, float]  # south, west, north, east


def choose_area(osm_dir: Path = SHARED_OSM) -> Area:
    """Islamabad when its extract is in ``osm_dir``, else the Helsinki demo region."""
    islamabad = osm_dir / "islamabad-2020.osm.pbf"
    if islamabad.exists():
        return Area("islamabad", str(islamabad), (33.58, 72.95, 33.74, 73.15))
    return Area("helsinki", None, (60.165, 24.936, 60.178, 24.952))


def prepare_database(env: dict[str, str], area: Area) -> dict[str, float]:
    """Migrate the database ``env`` names and import ``area`` into it; returns the seconds taken."""
    lifeline = str(Path(sys.executable).with_name("lifeline"))
    t = time.monotonic()
    subprocess.run([lifeline, "db", "upgrade"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    taken = {"database_s": round(time.monotonic() - t, 1)}
    t = time.monotonic()
    if area.pbf:
        command = [lifeline, "region", "import", "--pbf", area.pbf, "--name", area.name]
    else:
        command = [lifeline, "region", "import-demo"]
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
    taken["region_import_s"] = round(time.monotonic() - t, 1)
    return taken


# --------------------------------------------------------------------------- resources


class Sampler:
    """CPU (percent of one core) and RSS per group of processes: the API, its stores, and each
    generator process, so a run shows who had the cores."""

    def __init__(self, api: Server, pg: PrivatePostgres, rd: PrivateRedis,
                 generators: dict[str, int]) -> None:
        self.api, self.pg, self.rd = api, pg, rd
        self.generators = {**generators, "main": os.getpid()}
        self.procs: dict[int, psutil.Process] = {}
        self.rows: list[dict[str, Any]] = []
        psutil.cpu_percent(None)

    def groups(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {"api": [], "postgres": [], "redis": []}
        with contextlib.suppress(psutil.Error, AssertionError):
            assert self.api.process is not None
            root = psutil.Process(self.api.process.pid)
            found["api"] = [root.pid, *(c.pid for c in root.children(recursive=True))]
        with contextlib.suppress(psutil.Error, OSError, ValueError):
            master = psutil.Process(int((self.pg.data / "postmaster.pid").read_text().split()[0]))
            found["postgres"] = [master.pid, *(c.pid for c in master.children())]
        if self.rd.process is not None:
            found["redis"] = [self.rd.process.pid]
        for name, pid in self.generators.items():
            found[f"gen_{name}"] = [pid]
        return found

    def _proc(self, pid: int) -> psutil.Process | None:
        if pid not in self.procs:
            try:
                self.procs[pid] = psutil.Process(pid)
                self.procs[pid].cpu_percent(None)
            except psutil.Error:
                return None
        return self.procs[pid]

    def sample(self, t: float) -> None:
        cpu: dict[str, float] = {}
        rss: dict[str, float] = {}
        for group, pids in self.groups().items():
            cpu[group] = rss[group] = 0.0
            for pid in pids:
                p = self._proc(pid)
                if p is None:
                    continue
                try:
                    cpu[group] += p.cpu_percent(None)
                    rss[group] += p.memory_info().rss / 2**20
                except psutil.Error:
                    self.procs.pop(pid, None)
        generators = sum(v for k, v in cpu.items() if k.startswith("gen_"))
        self.rows.append({
            "t": round(t, 2), "api_cpu_pct": round(cpu["api"], 1),
            "api_rss_mb": round(rss["api"], 1), "generator_cpu_pct": round(generators, 1),
            "load1": os.getloadavg()[0],
            "system_cpu_pct": round(psutil.cpu_percent(None) * (os.cpu_count() or 1), 1),
            "cpu_pct": {k: round(v, 1) for k, v in cpu.items()},
            "rss_mb": {k: round(v, 1) for k, v in rss.items()},
        })

    def cpu_seconds(self) -> dict[str, dict[int, float]]:
        """User + system CPU time of every process of every group, now."""
        out: dict[str, dict[int, float]] = {}
        for group, pids in self.groups().items():
            out[group] = {}
            for pid in pids:
                with contextlib.suppress(psutil.Error):
                    times = psutil.Process(pid).cpu_times()
                    out[group][pid] = times.user + times.system
        return out

    async def run(self, t0: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample(time.monotonic() - t0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


def cpu_window(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]],
               seconds: float) -> dict[str, dict[str, float]]:
    """CPU each group spent over the offered window (processes alive at both ends)."""
    out = {}
    for group, start in before.items():
        spent = sum(after.get(group, {}).get(pid, cpu) - cpu for pid, cpu in start.items())
        out[group] = {"cpu_s": round(spent, 2), "mean_pct": round(spent / seconds * 100, 1)}
    return out


# --------------------------------------------------------------------------- figures


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


def _per_second(rows: list[tuple[float, float]]) -> list[dict[str, Any]]:
    buckets: dict[int, list[float]] = defaultdict(list)
    for start, latency in rows:
        buckets[int(start)].append(latency)
    return [{"second": s, **percentiles(v)} for s, v in sorted(buckets.items())]


def _http_figures(requests: list[list[Any]], span: float) -> tuple[dict, dict]:
    by_label: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for label, start, latency, status in requests:
        by_label[label].append((start, latency, status))
    endpoints, over_time = {}, {}
    for label, rows in sorted(by_label.items()):
        ok = [(start, lat) for start, lat, status in rows if 200 <= status < 300]
        statuses: dict[str, int] = defaultdict(int)
        for _, _, status in rows:
            statuses[str(status)] += 1
        endpoints[label] = {
            **percentiles([lat for _, lat in ok]),
            "throughput_per_s": round(len(ok) / span, 1),
            "errors": sum(1 for _, _, s in rows if s == 0 or s >= 500),
            "statuses": dict(statuses),
        }
        over_time[label] = _per_second(ok)
    return endpoints, over_time


def summarise(http: dict[str, Any], telemetry: dict[str, Any], consoles: dict[str, Any],
              seconds: float) -> dict[str, Any]:
    """The figures of the three generator processes, in the shape bench/report.py reads."""
    acks = telemetry.get("samples", [])
    # Work queued in the generator drains after the offered duration: rates are per second of
    # activity (first request to last completion), not per offered second.
    span = max(max((start + latency for _, start, latency, _ in http["requests"]), default=0),
               max((start + latency for start, latency in acks), default=0), seconds)
    endpoints, over_time = _http_figures(http["requests"], span)
    over_time["gps_fix_ack"] = _per_second([(s, lat) for s, lat in acks])
    ack_latency = [lat for _, lat in acks]
    sos_ok = endpoints.get("sos", {}).get("count", 0)
    tel = {k: v for k, v in telemetry.items() if k != "samples"}
    tel.update(throughput_per_s=round(telemetry.get("accepted", 0) / span, 1),
               ack_latency=percentiles(ack_latency),
               ack_latency_histogram=histogram_ms(ack_latency, 5.0))
    con = {k: v for k, v in consoles.items() if not k.endswith("_delays")}
    con.update(expected_case_raises=sos_ok * consoles.get("measuring", 0),
               mb_per_s=round(consoles.get("bytes", 0) / span / 2**20, 2),
               frames_per_s=round(consoles.get("frames", 0) / span, 1))
    cases, positions = consoles.get("case_delays", []), consoles.get("position_delays", [])
    return {"endpoints": endpoints, "over_time": over_time, "active_s": round(span, 1),
            "propagation": percentiles(cases), "propagation_histogram": histogram_ms(cases),
            "position_propagation": percentiles(positions),
            "position_propagation_histogram": histogram_ms(positions),
            "telemetry": tel, "consoles": con,
            "outcomes": http["outcomes"], "shed": http["shed"]}


# --------------------------------------------------------------------------- the run


def road_points(libpq: str, region: str, count: int) -> list[tuple[float, float]]:
    """Random points of the region's roads: where calls come from and ambulances wait."""
    with psycopg.connect(libpq) as conn:
        rows = conn.execute(
            "SELECT ST_Y(ST_StartPoint(geom)), ST_X(ST_StartPoint(geom)) FROM road_edges "
            "WHERE region = %s ORDER BY random() LIMIT %s", [region, count]).fetchall()
    return [(float(lat), float(lng)) for lat, lng in rows]


Station = tuple[float, float]


async def _create_units(http: httpx.AsyncClient, headers: dict[str, str],
                        stations: list[Station]) -> list[tuple[str, Station]]:
    """Units at stations on the road network, created a few at a time (waiting out 429s)."""
    gate = asyncio.Semaphore(16)

    async def one(i: int) -> tuple[str, Station]:
        lat, lng = stations[i]
        body = {"call_sign": f"LD-{i:03d}", "type": "ALS" if i % 3 else "BLS",
                "station_lat": lat, "station_lng": lng}
        async with gate:
            while True:
                r = await http.post("/api/v1/units", headers=headers, json=body)
                if r.status_code != 429:
                    r.raise_for_status()
                    return r.json()["id"], (lat, lng)
                await asyncio.sleep(float(r.headers.get("retry-after", 1)))

    return list(await asyncio.gather(*(one(i) for i in range(len(stations)))))


async def _wait_ready(processes: dict[str, Any], signals: dict[str, loadgen.Signals],
                      timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(s.ready.is_set() for s in signals.values()):
        dead = [name for name, p in processes.items() if not p.is_alive()]
        if dead:
            raise RuntimeError(f"generator process(es) died during setup: {dead}")
        if time.monotonic() > deadline:
            raise TimeoutError("generator processes not ready")
        await asyncio.sleep(0.1)


def _read(path: Path, name: str) -> dict[str, Any]:
    if not path.exists():
        raise RuntimeError(f"the {name} process wrote no figures ({path})")
    return json.loads(path.read_text())


async def generate(args: argparse.Namespace, api: Server, pg: PrivatePostgres, rd: PrivateRedis,
                   area: Area, tokens: list[str], fleet: str,
                   units: list[tuple[str, tuple[float, float]]], points: list[tuple[float, float]],
                   workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start the three generator processes together; sample while they run; collect."""
    spawn = multiprocessing.get_context("spawn")
    t0 = spawn.Value("d", 0.0)
    stop = spawn.Event()
    signals = {name: loadgen.Signals(spawn.Event(), spawn.Event(), t0, stop)
               for name in GENERATORS}
    outs = {name: workdir / f"gen-{name}.json" for name in GENERATORS}
    for path in outs.values():
        path.unlink(missing_ok=True)
    plans = {
        "http": (loadgen.http_main, loadgen.HttpPlan(
            base=api.http, out=str(outs["http"]), seconds=args.seconds, rate=args.sos_rate,
            points=points, operators=tokens, operator_share=args.operator_share,
            max_in_flight=args.max_in_flight)),
        "telemetry": (loadgen.telemetry_main, loadgen.TelemetryPlan(
            url=api.ws + "/telemetry", out=str(outs["telemetry"]), seconds=args.seconds,
            rate=args.ping_rate, token=fleet, units=units)),
        "consoles": (loadgen.consoles_main, loadgen.ConsolesPlan(
            url=api.ws, out=str(outs["consoles"]), token=fleet, count=args.consoles,
            measure_share=args.measure_share)),
    }
    processes = {name: spawn.Process(target=loadgen.run_process, name=f"loadgen-{name}",
                                     args=(main, plan, signals[name]))
                 for name, (main, plan) in plans.items()}
    try:
        for p in processes.values():
            p.start()
        started = time.monotonic()
        await _wait_ready(processes, signals, 180)
        connect_s = round(time.monotonic() - started, 1)
        sampler = Sampler(api, pg, rd, {name: p.pid for name, p in processes.items()})
        t0.value = time.monotonic() + 0.2
        for s in signals.values():
            s.go.set()
        await asyncio.sleep(max(0.0, t0.value - time.monotonic()))
        before = sampler.cpu_seconds()
        stop_sampling = asyncio.Event()
        sampling = asyncio.create_task(sampler.run(t0.value, stop_sampling))
        await asyncio.sleep(max(0.0, t0.value + args.seconds - time.monotonic()))
        window = cpu_window(before, sampler.cpu_seconds(), args.seconds)
        for name in ("http", "telemetry"):
            await asyncio.to_thread(processes[name].join, 120)
        await asyncio.sleep(2.0)  # let the last events reach the consoles
        stop.set()
        await asyncio.to_thread(processes["consoles"].join, 60)
        stop_sampling.set()
        await sampling
    finally:
        for p in processes.values():
            if p.is_alive():
                p.kill()
                p.join(5)
    figures = {name: _read(path, name) for name, path in outs.items()}
    result = summarise(figures["http"], figures["telemetry"], figures["consoles"], args.seconds)
    result["resources"] = sampler.rows
    result["cpu_window"] = window
    result["generators"] = {
        name: {**window.get(f"gen_{name}", {}),
               "rss_max_mb": max((r["rss_mb"].get(f"gen_{name}", 0) for r in sampler.rows),
                                 default=0)}
        for name in (*GENERATORS, "main")}
    return result, {"generators_connect_s": connect_s}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    area = choose_area(Path(args.osm_dir))
    pg, rd = PrivatePostgres(), PrivateRedis()
    api: Server | None = None
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    setup: dict[str, float] = {}
    try:
        t = time.monotonic()
        pg.init()
        rd.start()
        env = dict(os.environ)
        env.update(DATABASE_URL=pg.url, REDIS_URL=rd.url,
                   LIFELINE_IDENTITY_SECRET_KEY="load-" + uuid.uuid4().hex + uuid.uuid4().hex,
                   LIFELINE_DATA_DIR=str(workdir), LIFELINE_SMS_SENDER="false",
                   LIFELINE_REALTIME_STREAM_PREFIX=f"load:{uuid.uuid4().hex}:",
                   PYTHONPATH=str(ROOT),
                   LIFELINE_DB_POOL_SIZE="20",
                   # Hundreds of consoles share one operator's token here.
                   LIFELINE_REALTIME_WS_PER_PRINCIPAL="100000")
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        setup.update(prepare_database(env, area))
        t = time.monotonic()
        api = Server(env, workers=2, log=workdir / "api.log").start()
        await asyncio.to_thread(api.wait_ready, 300, require_ready=True)
        setup["api_ready_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        # One more account than the operators: the fleet's (units, telemetry, consoles), so
        # creating hundreds of units does not spend an operator's per-caller request budget.
        *tokens, fleet = await asyncio.gather(
            *(operator_token(api.http, env) for _ in range(args.operators + 1)))
        async with httpx.AsyncClient(base_url=api.http, timeout=30) as http:
            points = road_points(pg.libpq, area.name, 20_000)
            units = await _create_units(http, {"Authorization": f"Bearer {fleet}"},
                                        random.sample(points, min(args.units, len(points))))
            setup["accounts_and_units_s"] = round(time.monotonic() - t, 1)
            result, more = await generate(args, api, pg, rd, area, tokens, fleet, units, points,
                                          workdir)
            setup.update(more)
            metrics = (await http.get("/metrics")).text
        (workdir / "metrics.txt").write_text(metrics)
        setup["consoles_connected"] = result["consoles"].get("connected", 0)
        setup["telemetry_sockets_ready"] = result["telemetry"].get("ready", 0)
        result.update(
            region=area.name, setup=setup,
            offered={"sos_per_s": args.sos_rate, "pings_per_s": args.ping_rate,
                     "ping_transport": "ws_telemetry", "consoles": args.consoles,
                     "measure_share": args.measure_share, "console_batch": True,
                     "operator_share": args.operator_share, "operators": args.operators,
                     "max_in_flight": args.max_in_flight, "seconds": args.seconds,
                     "units": args.units,
                     "position_coalesce_ms": env.get("LIFELINE_REALTIME_POSITION_COALESCE_MS")},
            machine={"cpus": os.cpu_count(), "platform": platform.platform(),
                     "python": platform.python_version(), "event_loop": _loop_name(),
                     "uptime_before": args.uptime_before, "uptime_after": _uptime()},
            server_commit=_commit(),
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


def _commit() -> str:
    """The commit the server ran from (with ``+dirty`` when the tree had changes)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return head + ("+dirty" if dirty else "")


def _loop_name() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    return f"uvloop {uvloop.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--sos-rate", type=float, default=50)
    parser.add_argument("--ping-rate", type=float, default=2000,
                        help="GPS fixes per second, over all the units' telemetry sockets")
    parser.add_argument("--consoles", type=int, default=500)
    parser.add_argument("--measure-share", type=float, default=0.2,
                        help="share of the consoles that time what they receive")
    parser.add_argument("--units", type=int, default=400)
    parser.add_argument("--operator-share", type=float, default=0.2)
    parser.add_argument("--operators", type=int, default=8,
                        help="operator accounts working the cases (round robin)")
    parser.add_argument("--max-in-flight", type=int, default=100)
    parser.add_argument("--workdir", default="var/bench")
    parser.add_argument("--osm-dir", default=str(SHARED_OSM),
                        help="folder holding islamabad-2020.osm.pbf (default: ../shared/data/osm)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "bench" / "load.json"))
    args = parser.parse_args()
    if args.ping_rate / max(args.units, 1) > UNIT_LIMIT_PER_S:
        print(f"note: {args.ping_rate / args.units:.1f} fixes/s per unit is over the server's "
              f"{UNIT_LIMIT_PER_S}/s: expect nacks", file=sys.stderr)
    args.uptime_before = _uptime()
    result = asyncio.run(run(args))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    brief = {k: v for k, v in result.items()
             if k not in ("over_time", "resources") and not k.endswith("_histogram")}
    brief["telemetry"] = {k: v for k, v in result["telemetry"].items()
                          if not k.endswith("_histogram")}
    print(json.dumps(brief, indent=1))


if __name__ == "__main__":
    main()
