"""Real-time propagation with 2 workers and many WebSocket clients, against a naive DB poller.

``python -m bench.realtime [--clients N] [--seconds S] [--rate R]`` or ``--quick`` (100 clients,
10 s). Creates a throwaway database (``lifeline db upgrade``) and its own redis-server, starts
``lifeline serve --workers 2``, connects the clients on loopback, raises cases over HTTP at
``--rate`` per second and prints commit→receipt latency P50/P99, events/s delivered, memory per
connection, CPU per delivered event (workers and clients, a load-independent figure) and the
baseline (every client polling the outbox once a second). ``--client raw`` (default) receives
with the minimal :mod:`bench.wsclient`, ``--client websockets`` with the websockets library.

Latency is measured from the event's ``at`` (the outbox row's ``created_at``, stamped at INSERT,
a few ms before COMMIT) to receipt, on the same clock: it slightly overstates commit→receipt.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
import pyotp
import uvloop
from websockets.asyncio.client import connect

from bench.wsclient import open_text_client
from data.events import Channel

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get(
    "LIFELINE_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CASES = Channel.CASE
PASSWORD = "bench-password-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit(wanted: int) -> int:
    """Each client costs a descriptor here and one in a worker."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else wanted
    target = max(soft, min(target, max(wanted, soft)))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, for the CPU load during the run."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    delivered: int = 0
    gaps: int = 0
    duplicates: int = 0
    #: seq -> [first, last] receipt latency over all clients: the pipeline vs the fan-out.
    spread: dict[int, list[float]] = field(default_factory=dict)

    def merge_spread(self, other: dict[int, list[float]]) -> None:
        for seq, (first, last) in other.items():
            mine = self.spread.setdefault(seq, [first, last])
            mine[0], mine[1] = min(mine[0], first), max(mine[1], last)


class Receiver:
    """What one client checks: every event once, in order, and how late."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.last: int | None = None
        self.subscribed = asyncio.Event()

    def on_text(self, raw: str, received: float) -> None:
        message = json.loads(raw)
        kind = message["type"]
        if kind == "event":
            tally = self.tally
            latency = (received - datetime.fromisoformat(message["at"]).timestamp()) * 1000
            tally.latencies_ms.append(latency)
            tally.delivered += 1
            seq = message["seq"]
            spread = tally.spread.get(seq)
            if spread is None:
                tally.spread[seq] = [latency, latency]
            elif latency < spread[0]:
                spread[0] = latency
            elif latency > spread[1]:
                spread[1] = latency
            if self.last is not None and seq != self.last + 1:
                if seq <= self.last:
                    tally.duplicates += 1
                else:
                    tally.gaps += 1
            self.last = seq
        elif kind == "subscribed":
            self.last = message["seq"]
            self.subscribed.set()


async def client(url: str, tally: Tally, ready: asyncio.Event) -> None:
    """A client on the ``websockets`` library (``--client websockets``)."""
    receiver = Receiver(tally)
    async with connect(url, open_timeout=60, max_queue=None, compression=None) as ws:
        json.loads(await ws.recv())  # welcome
        await ws.send(json.dumps({"type": "subscribe", "channel": CASES}))
        ready.set()
        async for raw in ws:
            receiver.on_text(raw, time.time())


async def raw_client(url: str, tally: Tally, ready: asyncio.Event) -> None:
    """A client on the minimal protocol of :mod:`bench.wsclient` (the default)."""
    receiver = Receiver(tally)
    protocol = await open_text_client(url, receiver.on_text)
    protocol.send_text(json.dumps({"type": "subscribe", "channel": CASES}))
    await asyncio.wait_for(receiver.subscribed.wait(), 60)
    ready.set()
    try:
        await protocol.closed
    finally:
        if protocol.transport is not None:
            protocol.transport.close()


async def naive_poller(database_url: str, tally: Tally, stop: asyncio.Event) -> None:
    """The baseline: a console that asks the database for new outbox rows every second."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        row = await (await conn.execute("SELECT coalesce(max(id), 0) FROM outbox")).fetchone()
        last_id = row[0]
        while not stop.is_set():
            await asyncio.sleep(1.0)
            cursor = await conn.execute(
                "SELECT id, created_at FROM outbox WHERE id > %s ORDER BY id", [last_id]
            )
            now = time.time()
            for row_id, created_at in await cursor.fetchall():
                tally.latencies_ms.append((now - created_at.timestamp()) * 1000)
                tally.delivered += 1
                last_id = row_id


async def load(base: str, rate: float, seconds: float, stop: asyncio.Event) -> int:
    raised = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            body = {
                "lat": 60.1699,
                "lng": 24.9384,
                "symptom_category": "chest_pain",
                "reporter_phone": f"+35840{uuid.uuid4().int % 10_000_000:07d}",
            }
            response = await http.post("/api/v1/emergency/cases", json=body)
            response.raise_for_status()
            raised += 1
            await asyncio.sleep(max(0.0, start + raised / rate - time.monotonic()))
    return raised


async def create_operator(database_url: str) -> tuple[str, str]:
    from data.db import async_session_factory, make_async_engine
    from data.models import import_all_models
    from data.settings import DataSettings
    from identity import service as identity_service

    import_all_models()
    engine = make_async_engine(DataSettings(DATABASE_URL=database_url))
    email = f"bench-{uuid.uuid4().hex[:8]}@lifeline.test"
    secret = pyotp.random_base32(length=32)  # staff sign in with a second factor
    async with async_session_factory(engine)() as session:
        await identity_service.create_user(
            db_session=session, email=email, password=PASSWORD, roles=["emergency_operator"],
            totp_secret=secret,
        )
    await engine.dispose()
    return email, secret


async def client_group(url: str, count: int, conn, kind: str) -> None:  # a Pipe end
    """One client process: ``count`` sockets; reports when connected, then its tally."""
    tally = Tally()
    readies = [asyncio.Event() for _ in range(count)]
    tasks = []
    make = raw_client if kind == "raw" else client
    for index in range(count):
        tasks.append(asyncio.create_task(make(url, tally, readies[index])))
        if index % 50 == 49:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 120)
    # The connections live until the end: keep them out of full collections, whose pauses
    # would otherwise show up as server latency.
    gc.collect()
    gc.freeze()
    loop = asyncio.get_running_loop()
    conn.send("ready")
    await loop.run_in_executor(None, conn.recv)  # "stop"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send((tally.latencies_ms, tally.delivered, tally.gaps, tally.duplicates, tally.spread))


def run_client_group(url: str, count: int, conn, kind: str) -> None:
    raise_fd_limit(count + 256)
    # uvloop (installed with uvicorn[standard]) makes the measuring clients cheaper, so they
    # take less CPU away from the server on a small machine.
    uvloop.run(client_group(url, count, conn, kind))


async def bench(args: argparse.Namespace, env: dict[str, str], base: str, serve_pid: int) -> None:
    database_url = env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    email, secret = await create_operator(env["DATABASE_URL"])
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        body = {"email": email, "password": PASSWORD, "totp": pyotp.TOTP(secret).now()}
        tokens = (await http.post("/api/v1/auth/login", json=body)).json()
    url = f"ws://{base.removeprefix('http://')}/ws?token={tokens['access_token']}"
    workers = children(serve_pid)
    await asyncio.sleep(1.0)
    rss_before = sum(rss_kib(pid) for pid in workers)

    # Clients live in their own processes, so the load generator's timing is not theirs.
    tally, baseline, stop = Tally(), Tally(), asyncio.Event()
    context = multiprocessing.get_context("spawn")
    groups = []
    connect_started = time.monotonic()
    per_group = -(-args.clients // args.client_processes)
    for index in range(args.client_processes):
        count = min(per_group, args.clients - index * per_group)
        parent, child = context.Pipe()
        process = context.Process(
            target=run_client_group, args=(url, count, child, args.client), daemon=True
        )
        process.start()
        groups.append((process, parent))
    loop = asyncio.get_running_loop()
    for _process, parent in groups:
        assert await loop.run_in_executor(None, parent.recv) == "ready"
    connect_s = time.monotonic() - connect_started
    await asyncio.sleep(1.0)
    rss_after = sum(rss_kib(pid) for pid in workers)

    pollers = [asyncio.create_task(naive_poller(database_url, baseline, stop)) for _ in range(5)]
    client_pids = [process.pid for process, _parent in groups]
    cpu_before = {pid: cpu_seconds(pid) for pid in workers + client_pids}
    busy_before = machine_busy()
    started = time.monotonic()
    raised = await load(base, args.rate, args.seconds, stop)
    await asyncio.sleep(2.0)  # let the last events arrive
    elapsed = time.monotonic() - started
    cpu = {pid: cpu_seconds(pid) - before for pid, before in cpu_before.items()}
    busy_after = machine_busy()
    machine_load = (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1)
    load_average = os.getloadavg()
    stop.set()
    await asyncio.gather(*pollers, return_exceptions=True)
    for process, parent in groups:
        parent.send("stop")
        latencies, delivered, gaps, duplicates, spread = await loop.run_in_executor(
            None, parent.recv
        )
        tally.latencies_ms.extend(latencies)
        tally.merge_spread(spread)
        tally.delivered += delivered
        tally.gaps += gaps
        tally.duplicates += duplicates
        process.join(10)

    expected = raised * args.clients
    print(
        f"\nworkers: 2 (processes {workers}), clients: {args.clients} "
        f"(connected in {connect_s:.1f} s)"
    )
    print(f"cases raised: {raised} at {args.rate:g}/s over {args.seconds:g} s")
    print(
        f"events delivered: {tally.delivered:,} of {expected:,} expected "
        f"({tally.gaps} gaps, {tally.duplicates} duplicates)"
    )
    print(f"delivery rate: {tally.delivered / elapsed:,.0f} events/s to clients")
    print(
        f"latency commit→receipt (WebSocket): P50 {percentile(tally.latencies_ms, 50):.1f} ms, "
        f"P99 {percentile(tally.latencies_ms, 99):.1f} ms, "
        f"max {max(tally.latencies_ms, default=float('nan')):.1f} ms"
    )
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM"
            " published_at - created_at)) FROM outbox WHERE published_at IS NOT NULL"
        )
        relay_p50, relay_p99 = ((await cursor.fetchone())[0] or [float("nan")] * 2)
    print(
        f"relay, INSERT to published in Redis (outbox created_at → published_at): "
        f"P50 {relay_p50 * 1000:.1f} ms, P99 {relay_p99 * 1000:.1f} ms"
    )
    firsts = [first for first, _last in tally.spread.values()]
    lasts = [last for _first, last in tally.spread.values()]
    print(
        f"per event, first client reached (relay + Redis + hub): P50 {percentile(firsts, 50):.1f}"
        f" ms, P99 {percentile(firsts, 99):.1f} ms; last client reached (+ fan-out to "
        f"{args.clients}): P50 {percentile(lasts, 50):.1f} ms, P99 {percentile(lasts, 99):.1f} ms"
    )
    print(
        f"baseline (poll the outbox every 1 s): "
        f"P50 {percentile(baseline.latencies_ms, 50):.1f} ms, "
        f"P99 {percentile(baseline.latencies_ms, 99):.1f} ms; with {args.clients} clients that "
        f"is {args.clients} queries/s on the database, vs 0 here"
    )
    if tally.latencies_ms and baseline.latencies_ms:
        ratio = statistics.median(baseline.latencies_ms) / statistics.median(tally.latencies_ms)
        print(f"median latency ratio baseline/WebSocket: {ratio:.0f}x")
    per_conn = (rss_after - rss_before) / args.clients
    print(
        f"worker RSS: {rss_before / 1024:.0f} MiB before, {rss_after / 1024:.0f} MiB with "
        f"clients -> {per_conn:.1f} KiB per connection"
    )
    worker_cpu = sum(cpu[pid] for pid in workers)
    client_cpu = sum(cpu[pid] for pid in client_pids)
    delivered = max(tally.delivered, 1)
    print(
        f"CPU during the run: workers {worker_cpu:.1f} s, client processes {client_cpu:.1f} s "
        f"of {elapsed:.0f} s x {os.cpu_count()} cores; machine {machine_load:.0%} busy, "
        f"load average {load_average[0]:.2f}"
    )
    print(
        f"CPU per delivered event: workers {worker_cpu / delivered * 1e6:.1f} µs "
        f"(everything the server does, HTTP included), "
        f"clients {client_cpu / delivered * 1e6:.1f} µs"
    )
    target = percentile(tally.latencies_ms, 99) < 100
    print(f"target P99 < 100 ms: {'met' if target else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=10.0, help="case changes per second")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--client",
        choices=("raw", "websockets"),
        default="raw",
        help="receiving clients: the minimal bench.wsclient protocol, or the websockets library",
    )
    parser.add_argument("--quick", action="store_true", help="100 clients, 10 s")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.seconds = 100, 10.0
    limit = raise_fd_limit(args.clients * 2 + 512)
    print(f"open-files limit: {limit}")

    name = f"lifeline_bench_rt_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_port, http_port = free_port(), free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace(
            "postgresql://", "postgresql+psycopg://", 1
        ),
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        LIFELINE_IDENTITY_SECRET_KEY=secrets.token_urlsafe(32),
        # A thousand clients share one operator's token here.
        LIFELINE_REALTIME_WS_PER_PRINCIPAL="100000",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    )
    lifeline = shutil.which("lifeline", path=str(Path(sys.executable).parent)) or "lifeline"
    redis_server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
    )
    serve = None
    try:
        subprocess.run(
            [lifeline, "db", "upgrade"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL
        )
        serve = subprocess.Popen(
            [lifeline, "serve", "--workers", "2", "--port", str(http_port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: resource.setrlimit(
                resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)
            ),
        )
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or serve.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        time.sleep(1.0)  # both workers up
        asyncio.run(bench(args, env, base, serve.pid))
    finally:
        if serve is not None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                serve.kill()
        redis_server.terminate()
        redis_server.wait(10)
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
