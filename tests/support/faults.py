"""Fault injection: SOS with client retries while Redis, an API worker and PostgreSQL fail.

Everything runs on loopback against private services this script starts (a PostgreSQL cluster
made with initdb, a redis-server, ``lifeline serve --workers 2``), never the machine's own.
Every attempt and every acknowledgement is journalled with its client id; afterwards the stored
cases are compared with them as Jepsen's set checker does (lost = acknowledged - stored,
unexpected = stored - attempted, duplicated = stored more than once), and every case's event
must have reached a console WebSocket exactly once.

    .venv/bin/python -m bench.faults --seconds 40 --clients 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyotp
from websockets.asyncio.client import connect

from data.events import Channel
from tests.support.servers import (
    ROOT,
    PrivatePostgres,
    PrivateRedis,
    Server,
    TcpProxy,
)

CASES_CHANNEL = Channel.CASE
SOS_PATH = "/api/v1/emergency/cases"
OPERATOR_PASSWORD = "fault-injection-operator-pw"


RETRYABLE = {408, 425, 429}
_phones = iter(range(uuid.uuid4().int % 5_000_000, 10_000_000))


def next_phone() -> str:
    """A valid Finnish mobile number, unique in this run: the op id of one SOS."""
    return f"+35840{next(_phones):07d}"


@dataclass
class Journal:
    """Every attempt and acknowledgement, with client id, op id (the reporter phone) and time."""

    t0: float = field(default_factory=time.monotonic)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    console_reconnects: int = 0
    console_port: int | None = None

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 4)

    def fault(self, name: str, **details: Any) -> None:
        self.faults.append({"at": self.now(), "fault": name, **details})


async def sos_client(
    client_id: str, http: httpx.AsyncClient, journal: Journal, stop: asyncio.Event,
    *, give_up_s: float, pause_s: float,
) -> None:
    """Raise SOS after SOS; retry each with the same Idempotency-Key until acknowledged."""
    while not stop.is_set():
        op = next_phone()
        key = str(uuid.uuid4())
        body = {"lat": 60.1699, "lng": 24.9384, "symptom_category": "chest_pain",
                "reporter_phone": op}
        deadline = time.monotonic() + give_up_s
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            started = journal.now()
            record = {"client": client_id, "op": op, "key": key, "attempt": attempt,
                      "at": started}
            try:
                r = await http.post(SOS_PATH, json=body, headers={"Idempotency-Key": key})
                record.update(status=r.status_code, done=journal.now())
            except httpx.HTTPError as exc:
                record.update(status=None, error=type(exc).__name__, done=journal.now())
                r = None
            journal.attempts.append(record)
            if r is not None and 200 <= r.status_code < 300:
                journal.acks.append({"client": client_id, "op": op, "case_id": r.json()["id"],
                                     "at": record["done"], "attempt": attempt,
                                     "replayed": r.headers.get("idempotent-replayed") == "true"})
                break
            if r is not None and r.status_code < 500 and r.status_code not in RETRYABLE:
                break  # the request itself is wrong: a retry cannot help
            await asyncio.sleep(min(0.05 * 2 ** min(attempt, 4), 0.5))
        await asyncio.sleep(pause_s)


async def console(url: str, token: str, journal: Journal, stop: asyncio.Event) -> None:
    """An operator's console: one socket, resumed from its last seq after every disconnect."""
    last_seq: int | None = None
    first = True
    while not stop.is_set():
        try:
            async with connect(f"{url}?token={token}", open_timeout=5) as ws:
                journal.console_port = ws.local_address[1]
                if not first:
                    journal.console_reconnects += 1
                first = False
                await ws.send(json.dumps({"type": "subscribe", "channel": CASES_CHANNEL,
                                          "last_seq": last_seq if last_seq is not None else 0,
                                          "filters": {}}))
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 0.5)
                    except TimeoutError:
                        continue
                    message = json.loads(raw)
                    if message.get("type") == "event" and message["channel"] == CASES_CHANNEL:
                        journal.events.append({"seq": message["seq"], "at": journal.now(),
                                               "type": message["event_type"],
                                               "case_id": message["data"].get("case_id")})
                        last_seq = message["seq"]
        except Exception:  # noqa: BLE001 - a console reconnects whatever went wrong
            await asyncio.sleep(0.2)


def create_operator(env: dict[str, str]) -> tuple[str, str]:
    """Provision an operator with the CLI; returns (email, TOTP secret)."""
    email = f"bench-op-{uuid.uuid4().hex[:6]}@lifeline.test"
    secret = pyotp.random_base32(length=32)  # staff sign in with a second factor
    lifeline = Path(sys.executable).with_name("lifeline")
    subprocess.run(
        [str(lifeline), "users", "create", "--email", email, "--password", OPERATOR_PASSWORD,
         "--role", "emergency_operator", "--totp-secret", secret],
        env=env, cwd=ROOT, check=True, capture_output=True,
    )
    return email, secret


async def operator_token(http: str, env: dict[str, str]) -> str:
    """Provision an operator and sign in."""
    email, secret = await asyncio.to_thread(create_operator, env)
    async with httpx.AsyncClient(base_url=http, timeout=10) as client:
        r = await client.post("/api/v1/auth/login", json={
            "email": email, "password": OPERATOR_PASSWORD, "totp": pyotp.TOTP(secret).now(),
        })
        r.raise_for_status()
        return r.json()["access_token"]


def check(journal: Journal, stored_rows: list[tuple[str, str]]) -> dict[str, Any]:
    """Jepsen-style set checker over ops (reporter phones) plus exactly-once delivery."""
    attempted = {a["op"] for a in journal.attempts}
    acked = {a["op"]: a["case_id"] for a in journal.acks}
    stored_count = Counter(phone for phone, _ in stored_rows)
    stored = set(stored_count)
    case_of = {phone: case_id for phone, case_id in stored_rows}
    lost = sorted(set(acked) - stored)
    unexpected = sorted(stored - attempted)
    duplicated = sorted(op for op, n in stored_count.items() if n > 1)
    wrong_case = sorted(op for op, cid in acked.items() if op in case_of and case_of[op] != cid)
    deliveries = Counter(e["case_id"] for e in journal.events if e["type"] == "case.raise")
    stored_ids = {case_id for _, case_id in stored_rows}
    undelivered = sorted(stored_ids - set(deliveries))
    delivered_twice = sorted(cid for cid, n in deliveries.items() if n > 1)
    seqs = [e["seq"] for e in journal.events]
    return {
        "attempted": len(attempted),
        "attempts": len(journal.attempts),
        "acknowledged": len(acked),
        "stored": len(stored_rows),
        "lost": lost,
        "unexpected": unexpected,
        "duplicated": duplicated,
        "ack_for_other_case": wrong_case,
        "events_received": len(journal.events),
        "undelivered": undelivered,
        "delivered_twice": delivered_twice,
        "duplicate_seqs": len(seqs) - len(set(seqs)),
        "console_reconnects": journal.console_reconnects,
        "failed_attempts": sum(1 for a in journal.attempts if a["status"] is None
                               or a["status"] >= 300),
    }


def recovery_after(journal: Journal, fault: str) -> float | None:
    """Seconds from the end of ``fault`` to the first SOS acknowledged after it."""
    marks = [f["at"] for f in journal.faults if f["fault"] == fault]
    if not marks:
        return None
    back = marks[-1]
    later = [a["at"] for a in journal.acks if a["at"] >= back]
    return round(min(later) - back, 3) if later else None


@dataclass
class Plan:
    """When each fault happens, in seconds after the load starts."""

    redis_kill: float = 2.0
    redis_back: float = 4.0
    worker_kill: float = 6.0
    pg_crash: float = 9.0
    pg_down_s: float = 2.0
    db_slow: float = 12.0
    db_delay_s: float = 0.05
    db_reset: float = 13.5
    load_s: float = 16.0


async def run(
    *, clients: int = 4, plan: Plan | None = None, pause_s: float = 0.05,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Start the private services and the API, inject the faults, return the checked result."""
    plan = plan or Plan()
    workdir = workdir or Path(tempfile.mkdtemp(prefix="lifeline-faults-"))
    pg, rd = PrivatePostgres(), PrivateRedis()
    journal = Journal()
    api: Server | None = None
    proxy = TcpProxy(pg.port)
    try:
        pg.init()
        rd.start()
        await proxy.start()
        env = dict(os.environ)
        env.update(
            DATABASE_URL=pg.url.replace(f":{pg.port}/", f":{proxy.port}/"), REDIS_URL=rd.url,
            LIFELINE_DATA_DIR=str(workdir),
            LIFELINE_REALTIME_STREAM_PREFIX=f"faults:{uuid.uuid4().hex}:",
            LIFELINE_SMS_SENDER="false", PYTHONPATH=str(ROOT),
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        from data.migrate import upgrade

        upgrade(pg.url)
        api = Server(env, workers=2, log=workdir / "api.log").start()
        # The proxy runs on this loop meanwhile.
        await asyncio.to_thread(api.wait_ready, 90, require_ready=True)
        token = await operator_token(api.http, env)
        stop_load, stop_console = asyncio.Event(), asyncio.Event()
        limits = httpx.Limits(max_connections=clients * 2)
        async with httpx.AsyncClient(base_url=api.http, timeout=5, limits=limits) as http:
            watcher = asyncio.create_task(console(api.ws, token, journal, stop_console))
            await asyncio.sleep(1.0)
            journal.t0 = time.monotonic()
            load = [asyncio.create_task(sos_client(f"c{i}", http, journal, stop_load,
                                                   give_up_s=60, pause_s=pause_s))
                    for i in range(clients)]
            await _faults(plan, journal, pg, rd, api, proxy)
            await asyncio.sleep(max(plan.load_s - journal.now(), 0))
            stop_load.set()
            await asyncio.wait_for(asyncio.gather(*load), 90)
            journal.fault("load_stopped")
            stored = await _stored(pg)
            raised = len(stored)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                got = {e["case_id"] for e in journal.events if e["type"] == "case.raise"}
                if len(got) >= raised:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)  # anything arriving now would be a duplicate
            stop_console.set()
            await asyncio.wait_for(watcher, 10)
            metrics = (await http.get("/metrics")).text
        result = check(journal, stored)
        result["recovery_s"] = {
            "postgres": recovery_after(journal, "pg_back"),
            "redis": recovery_after(journal, "redis_back"),
            "worker": recovery_after(journal, "worker_killed"),
            "db_connections_reset": recovery_after(journal, "db_connections_reset"),
        }
        result["faults"] = journal.faults
        result["metrics_sos_created"] = _metric_sum(metrics, "lifeline_sos_intake_total")
        (workdir / "journal.json").write_text(json.dumps(
            {"attempts": journal.attempts, "acks": journal.acks, "events": journal.events,
             "faults": journal.faults}, indent=1))
        result["journal"] = str(workdir / "journal.json")
        return result
    finally:
        if api is not None:
            api.stop()
        await proxy.stop()
        rd.kill()
        pg.destroy()


async def _faults(plan: Plan, journal: Journal, pg: PrivatePostgres, rd: PrivateRedis,
                  api: Server, proxy: TcpProxy) -> None:
    async def at(t: float) -> None:
        await asyncio.sleep(max(t - journal.now(), 0))

    await at(plan.redis_kill)
    rd.kill()
    journal.fault("redis_killed")
    await at(plan.redis_back)
    await asyncio.to_thread(rd.start)
    journal.fault("redis_back")
    await at(plan.worker_kill)
    holder = api.holder_of(journal.console_port)
    pid = await asyncio.to_thread(api.kill_one_worker, prefer_client_port=journal.console_port)
    journal.fault("worker_killed", pid=pid, held_console=holder == pid)
    await at(plan.pg_crash)
    # The next kill must take one worker of a full set, not the last one left: the killed worker
    # is replaced first (later faults wait; the load runs until they are done).
    await asyncio.to_thread(api.wait_for_workers)
    journal.fault("worker_replaced")
    await asyncio.to_thread(pg.crash)
    journal.fault("pg_crashed")
    await asyncio.sleep(plan.pg_down_s / 3)
    # A worker restarted while the database is down must wait for it, not take uvicorn down.
    journal.fault("worker_killed_during_db_outage",
                  pid=await asyncio.to_thread(api.kill_one_worker))
    await asyncio.sleep(plan.pg_down_s * 2 / 3)
    await asyncio.to_thread(pg.start)
    journal.fault("pg_back")
    await at(plan.db_slow)
    proxy.delay_s = plan.db_delay_s
    journal.fault("db_slow", delay_s=plan.db_delay_s)
    await at(plan.db_reset)
    proxy.delay_s = 0.0
    journal.fault("db_connections_reset", connections=proxy.reset_all())


async def _stored(pg: PrivatePostgres) -> list[tuple[str, str]]:
    async with await psycopg.AsyncConnection.connect(pg.libpq) as conn:
        rows = await (await conn.execute(
            "SELECT reporter_phone, id::text FROM emergency_cases")).fetchall()
    return [(phone, case_id) for phone, case_id in rows]


def _metric_sum(text: str, name: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                totals[sample.labels.get("outcome", "")] += sample.value
    return dict(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration")
    parser.add_argument("--out", default=str(ROOT / "docs" / "bench" / "faults.json"))
    args = parser.parse_args()
    span = args.seconds
    plan = Plan(redis_kill=span * 0.1, redis_back=span * 0.2, worker_kill=span * 0.35,
                pg_crash=span * 0.5, pg_down_s=max(2.0, span * 0.1), db_slow=span * 0.75,
                db_reset=span * 0.85, load_s=span)
    workdir = ROOT / "var" / "faults"
    workdir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(clients=args.clients, plan=plan, workdir=workdir))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: (len(v) if isinstance(v, list) and k != "faults" else v)
                      for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    main()
