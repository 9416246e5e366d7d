"""SOS intake latency alone and under a flood of sign-ins, against one ``lifeline serve`` worker.

Password hashing (argon2id, ~100 ms of CPU a check) must never stall an emergency: this measures
SOS round trips (P50/P99) first alone, then while eight clients post sign-ins as fast as they are
answered, in one run against the same server, and prints the ratio. Each flooding client signs in
to its own account from its own loopback address (127.0.0.10-17); the sign-in rate limits, which
would stop one address after a few dozen tries, are raised so that what is measured is the
server's handling of the password checks it does run. The flood runs in a separate process, so
its client work does not sit in the SOS client's event loop.

    .venv/bin/python -m bench.login_flood --seconds 15

Uses the machine's PostgreSQL (a database of its own, dropped afterwards) and Redis (a key prefix
of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get(
    "LIFELINE_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SOS_PATH = "/api/v1/emergency/cases"
LOGIN_PATH = "/api/v1/auth/login"
PASSWORD = "flood-bench-correct-horse-battery"
FLOOD_CLIENTS = 8


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (ms)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def create_database() -> tuple[str, str]:
    """A fresh database migrated to head; returns (its name, SQLAlchemy URL)."""
    name = f"lifeline_bench_login_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    from data.migrate import upgrade

    upgrade(url)
    return name, url


def drop_database(name: str) -> None:
    """Remove the database this run created."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_patients(env: dict[str, str], count: int) -> list[str]:
    """Patient accounts (no second factor) for the flooding clients, made with the CLI."""
    lifeline = Path(sys.executable).with_name("lifeline")
    emails = [f"flood-{i}-{uuid.uuid4().hex[:6]}@lifeline.test" for i in range(count)]
    for email in emails:
        subprocess.run(
            [str(lifeline), "users", "create", "--email", email, "--password", PASSWORD,
             "--role", "patient"],
            env=env, cwd=ROOT, check=True, capture_output=True,
        )
    return emails


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """``lifeline serve`` as a user starts it (one worker)."""
    lifeline = Path(sys.executable).with_name("lifeline")
    return subprocess.Popen(
        [str(lifeline), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, start_new_session=True, stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(base: str, process: subprocess.Popen, timeout: float = 90) -> None:
    """Until /health/ready answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError("the server did not become ready")


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


async def sos_round_trips(base: str, seconds: float, pause_s: float) -> dict[str, Any]:
    """One reporter after another: SOS, wait for the answer, a short pause; latencies in ms.

    Each SOS comes on a connection of its own, as from a phone of its own: on one kept-alive
    connection each request would also wait for the server to finish the previous one's
    after-response work (its audit row), which no real reporter waits for.
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=fresh) as client:
        i = 0
        while time.monotonic() < deadline:
            i += 1
            body = {"lat": 60.17, "lng": 24.94, "symptom_category": "chest_pain",
                    "reporter_phone": f"+35840{(os.getpid() * 1000 + i) % 10_000_000:07d}"}
            started = time.perf_counter()
            key = {"Idempotency-Key": uuid.uuid4().hex}
            r = await client.post(SOS_PATH, json=body, headers=key)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            await asyncio.sleep(pause_s)
    return {"count": len(latencies), "p50_ms": round(percentile(latencies, 50), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "max_ms": round(max(latencies), 1), "statuses": statuses}


async def _flood(base: str, emails: list[str], seconds: float) -> dict[str, Any]:
    outcomes: dict[int, int] = {}
    latencies: list[float] = []

    async def one(index: int, email: str) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{10 + index}")
        async with httpx.AsyncClient(base_url=base, timeout=30, transport=transport) as client:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    r = await client.post(LOGIN_PATH, json={"email": email, "password": PASSWORD})
                    status = r.status_code
                except httpx.HTTPError:
                    status = 0
                latencies.append((time.perf_counter() - started) * 1000)
                outcomes[status] = outcomes.get(status, 0) + 1

    await asyncio.gather(*(one(i, e) for i, e in enumerate(emails)))
    return {"attempts": sum(outcomes.values()), "statuses": outcomes,
            "p50_ms": round(percentile(latencies, 50), 1)}


def flood_process(
    base: str, emails: list[str], seconds: float, out: Any, nice: int
) -> None:
    """Entry point of the flooding process; sends its tally back through a pipe.

    ``nice``: a real flood runs on the attackers' machines, not on the server's cores; on one
    shared machine the flood's own client work is lowered in priority to stand for that.
    """
    os.nice(nice)
    out.send(asyncio.run(_flood(base, emails, seconds)))


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of the server process and its children so far."""
    import psutil

    total = 0.0
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        for process in (root, *root.children(recursive=True)):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
    return total


def measure(
    base: str, emails: list[str], seconds: float, pause_s: float, server_pid: int,
    flood_nice: int = 0,
) -> dict[str, Any]:
    """SOS alone, then SOS under the flood, against the same server."""
    asyncio.run(sos_round_trips(base, 2, pause_s))  # warm-up: connections, caches, JIT-less paths
    cpu, wall = server_cpu_s(server_pid), time.monotonic()
    alone = asyncio.run(sos_round_trips(base, seconds, pause_s))
    alone["server_cpu_share"] = round(
        (server_cpu_s(server_pid) - cpu) / (time.monotonic() - wall), 2
    )
    reader, writer = multiprocessing.Pipe(duplex=False)
    flood = multiprocessing.Process(
        target=flood_process, args=(base, emails, seconds + 2, writer, flood_nice), daemon=True
    )
    flood.start()
    time.sleep(1.0)  # the flood is under way before the first measured SOS
    cpu, wall = server_cpu_s(server_pid), time.monotonic()
    flooded = asyncio.run(sos_round_trips(base, seconds, pause_s))
    flooded["server_cpu_share"] = round(
        (server_cpu_s(server_pid) - cpu) / (time.monotonic() - wall), 2
    )
    logins = reader.recv()
    flood.join(10)
    return {
        "sos_alone": alone,
        "sos_under_flood": flooded,
        "logins": logins,
        "p50_ratio": round(flooded["p50_ms"] / alone["p50_ms"], 2),
        "p99_ratio": round(flooded["p99_ms"] / alone["p99_ms"], 2),
    }


def main() -> None:
    """Parse arguments, run, print the figures (and write them as JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    parser.add_argument("--pause-ms", type=float, default=50.0, help="pause between two SOS")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--record", type=Path,
                        help="append the figures, as run --label, to this JSON list of runs "
                             "(docs/bench/login-flood.json feeds docs/benchmarks.md)")
    parser.add_argument("--label", default="now", help="name of this run in --record")
    parser.add_argument("--flood-nice", type=int, default=0,
                        help="nice value of the flooding clients' process (their CPU is the "
                             "attackers' own, not the server's, in a real flood)")
    args = parser.parse_args()
    name, url = create_database()
    port = free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        LIFELINE_REALTIME_STREAM_PREFIX=f"bench-login:{uuid.uuid4().hex}:",
        LIFELINE_SMS_SENDER="false",
        # The flood comes from eight addresses at one account each: lift the sign-in limits so
        # the server really checks every password it is sent (the cost under test).
        LIFELINE_IDENTITY_LOGIN_PER_ACCOUNT="100000000",
        LIFELINE_IDENTITY_LOGIN_PER_IP="100000000",
        LIFELINE_IDENTITY_API_PER_MINUTE="100000000",
        PYTHONPATH=str(ROOT),
    )
    log = Path(f"/tmp/lifeline-login-flood-{os.getpid()}.log")
    process = None
    try:
        emails = create_patients(env, FLOOD_CLIENTS)
        process = start_server(env, port, log)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, process)
        figures = measure(base, emails, args.seconds, args.pause_ms / 1000, process.pid,
                          flood_nice=args.flood_nice)
        figures["flood_nice"] = args.flood_nice
    finally:
        if process is not None:
            stop_server(process)
        drop_database(name)
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    alone, flooded = figures["sos_alone"], figures["sos_under_flood"]
    print(f"SOS alone:         P50 {alone['p50_ms']:7.1f} ms  P99 {alone['p99_ms']:7.1f} ms  "
          f"({alone['count']} SOS; server busy {alone['server_cpu_share']:.0%} of a core)")
    print(f"SOS, login flood:  P50 {flooded['p50_ms']:7.1f} ms  P99 {flooded['p99_ms']:7.1f} ms  "
          f"({flooded['count']} SOS; server busy {flooded['server_cpu_share']:.0%} of a core)")
    print(f"ratio (flood / alone): P50 x{figures['p50_ratio']}  P99 x{figures['p99_ratio']}  "
          f"(target P99 < x2)")
    logins = figures["logins"]
    print(f"sign-ins during the flood: {logins['attempts']} by {FLOOD_CLIENTS} clients, "
          f"answers {logins['statuses']}, P50 {logins['p50_ms']} ms")
    print(f"load average: {figures['load_average']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.record:
        record(args.record, args.label, figures, seconds=args.seconds)


def record(path: Path, label: str, figures: dict[str, Any], *, seconds: float) -> None:
    """Append one labelled run to the JSON list at ``path``."""
    runs = json.loads(path.read_text())["runs"] if path.exists() else []
    runs.append({"label": label, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "seconds": seconds, **figures})
    path.write_text(json.dumps({"runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
