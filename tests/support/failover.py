"""Failover: SOS keep being accepted while the PostgreSQL primary, the Redis master and an app
node are lost in turn, and nothing acknowledged is lost or stored twice.

Runs the high-availability topology of docker-compose.yml on loopback (bench/ha.py: Patroni +
etcd, Redis Sentinel, two app nodes behind HAProxy). While clients raise SOS through HAProxy,
retrying each with the same Idempotency-Key, and consoles are subscribed over WebSocket:

1. the PostgreSQL primary's machine is killed (``kill -9`` of Patroni and PostgreSQL);
2. later the Redis master is stopped (Sentinel promotes the replica);
3. later one app node is killed (``kill -9``); its consoles reconnect to the other node
   through HAProxy and resume from their ``last_seq``;
4. after the load, the old primary is started again and must rejoin as synchronous standby.

For each fault: the seconds until an SOS first sent after it is acknowledged (targets: 10 s for
PostgreSQL, 5 s for Redis and an app node). Then the Jepsen-style set check of bench/faults.py
over every attempt, and exactly-once delivery to every console.

    .venv/bin/python -m bench.failover --seconds 40 --clients 6 --consoles 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.support.faults import Journal, check, console, operator_token, sos_client
from tests.support.ha import HaStack
from tests.support.servers import ROOT

TARGETS_S = {"postgres": 10.0, "redis": 5.0, "app_node": 5.0}


@dataclass
class Plan:
    """When each fault happens, in seconds after the load starts."""

    pg_kill: float = 3.0
    redis_stop: float = 15.0
    app_kill: float = 21.0
    load_s: float = 27.0


def accepted_again(journal: Journal, fault: str) -> float | None:
    """Seconds from ``fault`` until an SOS attempt sent after it was acknowledged."""
    marks = [f["at"] for f in journal.faults if f["fault"] == fault]
    if not marks:
        return None
    mark = marks[-1]
    done = [a["done"] for a in journal.attempts
            if a["at"] >= mark and a.get("status") is not None and 200 <= a["status"] < 300]
    return round(min(done) - mark, 3) if done else None


def longest_gap(journal: Journal, start: float, end: float) -> float:
    """The longest stretch without any acknowledgement between ``start`` and ``end``."""
    times = sorted([start, *(a["at"] for a in journal.acks if start <= a["at"] <= end), end])
    return round(max(b - a for a, b in zip(times, times[1:], strict=False)), 3)


def console_deliveries(events: list[dict[str, Any]], stored_ids: set[str]) -> dict[str, Any]:
    """Exactly once per console: every stored case's raise event, none twice, no seq twice."""
    deliveries = Counter(e["case_id"] for e in events if e["type"] == "case.raise")
    seqs = [e["seq"] for e in events]
    return {
        "events": len(events),
        "undelivered": sorted(stored_ids - set(deliveries)),
        "delivered_twice": sorted(cid for cid, n in deliveries.items() if n > 1),
        "duplicate_seqs": len(seqs) - len(set(seqs)),
    }


async def directory_reader(http: httpx.AsyncClient, journal: Journal, reads: list[dict[str, Any]],
                           stop: asyncio.Event) -> None:
    """Reads the hospital directory (served by the standby, DATABASE_READ_URL) all along."""
    while not stop.is_set():
        at = journal.now()
        try:
            status = (await http.get("/api/v1/hospitals")).status_code
        except httpx.HTTPError:
            status = None
        reads.append({"at": at, "status": status})
        await asyncio.sleep(0.1)


def read_availability(reads: list[dict[str, Any]]) -> dict[str, Any]:
    """Directory reads answered 200 / not; each failure's time and status (None: no answer)."""
    failed = [r for r in reads if r["status"] != 200]
    return {"ok": len(reads) - len(failed), "failed": len(failed),
            "failed_at": [(r["at"], r["status"]) for r in failed][:20]}


async def _watch(what: str, journal: Journal, probe: Any, timeout: float = 60) -> None:
    """Journal ``what`` once ``probe()`` (blocking) turns true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if await asyncio.to_thread(probe):
                journal.fault(what)
                return
        await asyncio.sleep(0.1)


async def run(
    *, clients: int = 3, consoles: int = 2, plan: Plan | None = None, pause_s: float = 0.05,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Start the stack, inject the faults, check, rejoin the old primary, tear down.

    Every log (Patroni, Redis, sentinels, HAProxy, app nodes) is copied to ``workdir``.
    """
    plan = plan or Plan()
    stack = HaStack()
    journal = Journal()
    watchers: list[asyncio.Task[None]] = []
    try:
        started = time.monotonic()
        await asyncio.to_thread(stack.start_services)
        env = stack.app_env()
        from data.migrate import upgrade

        await asyncio.to_thread(upgrade, env["DATABASE_URL"])
        await asyncio.to_thread(stack.start_apps)
        assert stack.lb is not None
        setup_s = round(time.monotonic() - started, 1)
        token = await operator_token(stack.lb.http, env)
        stop_load, stop_consoles = asyncio.Event(), asyncio.Event()
        reads: list[dict[str, Any]] = []
        screens = [Journal(t0=journal.t0) for _ in range(consoles)]
        ws_url = stack.lb.http.replace("http://", "ws://") + "/ws"
        limits = httpx.Limits(max_connections=clients * 2)
        async with httpx.AsyncClient(base_url=stack.lb.http, timeout=5, limits=limits) as http:
            watching = [asyncio.create_task(console(ws_url, token, screen, stop_consoles))
                        for screen in screens]
            await asyncio.sleep(1.5)
            journal.t0 = time.monotonic()
            for screen in screens:
                screen.t0 = journal.t0
            load = [asyncio.create_task(sos_client(f"c{i}", http, journal, stop_load,
                                                   give_up_s=90, pause_s=pause_s))
                    for i in range(clients)]
            load.append(asyncio.create_task(directory_reader(http, journal, reads, stop_load)))
            killed = await _faults(plan, journal, stack, watchers)
            await asyncio.sleep(max(plan.load_s - journal.now(), 0))
            stop_load.set()
            await asyncio.wait_for(asyncio.gather(*load), 120)
            journal.fault("load_stopped")
            stored = await _stored(stack.postgres.libpq_url())
            stored_ids = {case_id for _, case_id in stored}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if all(stored_ids <= {e["case_id"] for e in s.events} for s in screens):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)  # anything arriving now would be a duplicate
            stop_consoles.set()
            await asyncio.wait_for(asyncio.gather(*watching), 15)
        rejoin = await asyncio.to_thread(_rejoin, stack, killed, len(stored))
        lock_holders = await _relay_lock_holders(stack.postgres.libpq_url())
        result = check(journal, stored)
        for key in ("events_received", "undelivered", "delivered_twice", "duplicate_seqs",
                    "console_reconnects"):
            result.pop(key, None)
        result["consoles"] = [
            {**console_deliveries(s.events, stored_ids), "reconnects": s.console_reconnects,
             "live_again_after_redis_stop_s": _first_event_after(s, journal, "redis_stopped")}
            for s in screens
        ]
        result["accepted_again_s"] = {
            "postgres": accepted_again(journal, "pg_primary_killed"),
            "redis": accepted_again(journal, "redis_stopped"),
            "app_node": accepted_again(journal, "app_node_killed"),
        }
        marks = {f["fault"]: f["at"] for f in journal.faults}
        result["longest_gap_s"] = {
            "postgres": longest_gap(journal, marks["pg_primary_killed"], marks["redis_stopped"]),
            "redis": longest_gap(journal, marks["redis_stopped"], marks["app_node_killed"]),
            "app_node": longest_gap(journal, marks["app_node_killed"], marks["load_stopped"]),
        }
        result["promoted_after_s"] = {
            "postgres": _between(marks, "pg_primary_killed", "pg_standby_promoted"),
            "redis": _between(marks, "redis_stopped", "redis_replica_promoted"),
        }
        result["targets_s"] = TARGETS_S
        result["rejoin"] = rejoin
        result["relay_lock_holders_on_primary"] = lock_holders
        result["directory_reads"] = read_availability(reads)
        result["faults"] = journal.faults
        result["setup_s"] = setup_s
        result["clients"], result["console_count"] = clients, consoles
        result["server_side_retries"] = _log_lines(stack, "database connection lost")
        result["hub_holes_filled"] = _log_lines(stack, "reading them from the outbox")
        return result
    finally:
        for task in watchers:
            task.cancel()
        if workdir is not None:
            _keep_logs(stack, workdir, journal)
        await asyncio.to_thread(stack.destroy)


def _log_lines(stack: HaStack, needle: str) -> int:
    return sum(path.read_text(errors="replace").count(needle)
               for path in stack.root.glob("app-*.log"))


def _keep_logs(stack: HaStack, workdir: Path, journal: Journal) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    for path in stack.root.rglob("*.log"):
        with contextlib.suppress(OSError):
            shutil.copyfile(path, workdir / "-".join(path.relative_to(stack.root).parts))
    (workdir / "journal.json").write_text(json.dumps(
        {"attempts": journal.attempts, "acks": journal.acks, "faults": journal.faults}))


async def _faults(plan: Plan, journal: Journal, stack: HaStack,
                  watchers: list[asyncio.Task[None]]) -> str:
    """Inject the three faults; returns the name of the killed PostgreSQL node."""

    async def at(t: float) -> None:
        await asyncio.sleep(max(t - journal.now(), 0))

    cluster = stack.postgres
    await at(plan.pg_kill)
    primary = await asyncio.to_thread(cluster.primary)
    assert primary is not None, "no PostgreSQL primary before the fault"
    standby = next(n for n in cluster.nodes if n is not primary)
    await asyncio.to_thread(primary.kill)
    journal.fault("pg_primary_killed", node=primary.name)
    watchers.append(asyncio.create_task(_watch("pg_standby_promoted", journal,
                                               standby.is_primary)))

    await at(plan.redis_stop)
    old = stack.redis.master_port()
    stopping = journal.now()
    await asyncio.to_thread(stack.redis.stop_master)
    # Marked once the master is gone (a SIGTERMed Redis first lets its replica catch up).
    journal.fault("redis_stopped", port=old, shutdown_s=round(journal.now() - stopping, 3))
    watchers.append(asyncio.create_task(_watch(
        "redis_replica_promoted", journal,
        lambda: stack.redis.master_port() not in (None, old))))

    await at(plan.app_kill)
    victim = stack.apps[0]
    await asyncio.to_thread(victim.kill)
    journal.fault("app_node_killed", host=victim.host)
    return primary.name


def _rejoin(stack: HaStack, name: str, stored: int) -> dict[str, Any]:
    """Start the killed node again: it must come back as the synchronous standby, caught up."""
    node = next(n for n in stack.postgres.nodes if n.name == name)
    started = time.monotonic()
    node.start()
    members = stack.postgres.wait_members(90)
    role = next(m["role"] for m in members if m["name"] == name)
    seconds = round(time.monotonic() - started, 2)
    url = f"postgresql://postgres@127.0.0.1:{node.pg_port}/lifeline"
    deadline = time.monotonic() + 20
    count = -1
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.Error), psycopg.connect(url) as conn:
            in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
            count = conn.execute("SELECT count(*) FROM emergency_cases").fetchone()[0]
            if count == stored:
                break
        time.sleep(0.2)
    return {"node": name, "role": role, "seconds": seconds, "in_recovery": in_recovery,
            "cases_on_rejoined_standby": count, "cases_on_primary": stored}


def _first_event_after(screen: Journal, journal: Journal, fault: str) -> float | None:
    """Seconds from ``fault`` until the console saw a case raised after it (live again)."""
    mark = next((f["at"] for f in journal.faults if f["fault"] == fault), None)
    if mark is None:
        return None
    raised_after = {a["case_id"] for a in journal.acks if a["at"] >= mark}
    later = [e["at"] for e in screen.events if e["case_id"] in raised_after]
    return round(min(later) - mark, 3) if later else None


def _between(marks: dict[str, float], start: str, end: str) -> float | None:
    if start not in marks or end not in marks:
        return None
    return round(marks[end] - marks[start], 3)


async def _stored(url: str) -> list[tuple[str, str]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        rows = await (await conn.execute(
            "SELECT reporter_phone, id::text FROM emergency_cases")).fetchall()
    return [(phone, case_id) for phone, case_id in rows]


async def _relay_lock_holders(url: str) -> int:
    """How many sessions on the primary hold an advisory lock: the one active relay."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        row = await (await conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")).fetchone()
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--consoles", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=40.0, help="load duration")
    parser.add_argument("--out", default=str(ROOT / "docs" / "bench" / "failover.json"))
    args = parser.parse_args()
    span = args.seconds
    plan = Plan(pg_kill=span * 0.1, redis_stop=span * 0.5, app_kill=span * 0.7, load_s=span)
    result = asyncio.run(run(clients=args.clients, consoles=args.consoles, plan=plan))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    summary = {k: v for k, v in result.items() if k != "faults"}
    for key in ("lost", "unexpected", "duplicated", "ack_for_other_case"):
        summary[key] = len(summary[key])
    summary["consoles"] = [{k: (len(v) if isinstance(v, list) else v) for k, v in c.items()}
                           for c in result["consoles"]]
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
