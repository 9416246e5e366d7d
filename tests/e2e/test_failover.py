"""A short run of bench/failover.py: Patroni + etcd, Redis Sentinel, two app nodes behind HAProxy.

While clients raise SOS through HAProxy with retries and two consoles are subscribed, the
PostgreSQL primary's machine is killed, then the Redis master is stopped, then an app node is
killed; afterwards the old primary must rejoin as the synchronous standby. Nothing acknowledged
may be lost or stored twice, and every console sees every case exactly once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.support.failover import TARGETS_S, Plan, run
from tests.support.ha import Haproxy
from tests.support.servers import ROOT

pytestmark = pytest.mark.timeout(420)

TOOLS = ("patroni", "etcd", "redis-sentinel", "haproxy")


@pytest.fixture(scope="module")
def ha_tools() -> None:
    """Installed the way ``make test`` does (scripts/bootstrap.sh), never skipped."""
    if not all(shutil.which(tool) for tool in TOOLS):
        env = {**os.environ, "WITH_HA": "1"}  # what `make test` exports for scripts/bootstrap.sh
        subprocess.run(["bash", str(ROOT / "scripts" / "bootstrap.sh")], check=True, env=env)
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    assert not missing, f"scripts/bootstrap.sh did not install {missing}"


async def test_sos_survive_losing_the_primary_the_redis_master_and_an_app_node(
    ha_tools, tmp_path
):
    result = await run(clients=3, consoles=2, plan=Plan(), workdir=tmp_path)

    assert result["acknowledged"] > 50, result
    assert result["lost"] == []
    assert result["unexpected"] == []
    assert result["duplicated"] == []
    assert result["ack_for_other_case"] == []
    for screen in result["consoles"]:
        assert screen["undelivered"] == [], screen
        assert screen["delivered_twice"] == [], screen
        assert screen["duplicate_seqs"] == 0, screen
    # The consoles of the killed node came back through HAProxy to the other one.
    assert sum(screen["reconnects"] for screen in result["consoles"]) >= 1
    faults = [f["fault"] for f in result["faults"]]
    for name in ("pg_primary_killed", "pg_standby_promoted", "redis_stopped",
                 "redis_replica_promoted", "app_node_killed"):
        assert name in faults, faults
    for fault, seconds in result["accepted_again_s"].items():
        assert seconds is not None and seconds <= TARGETS_S[fault], result["accepted_again_s"]
    # The old primary is back as the synchronous standby, with every case.
    assert result["rejoin"]["role"] == "sync_standby", result["rejoin"]
    assert result["rejoin"]["in_recovery"] is True
    assert result["rejoin"]["cases_on_rejoined_standby"] == result["stored"]
    # The directory is read on the standby (DATABASE_READ_URL) and stayed readable.
    assert result["directory_reads"]["ok"] > 0
    assert result["directory_reads"]["failed"] == 0, result["directory_reads"]
    # One relay, on the new primary, holds the advisory lock.
    assert result["relay_lock_holders_on_primary"] == 1


class _Node(ThreadingHTTPServer):
    """A stand-in app node: ready for HAProxy's checks; a dying one cuts every request off."""

    def __init__(self, dying: bool) -> None:
        self.dying = dying
        self.seen: list[tuple[str, str | None]] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Node

    def _answer(self) -> None:
        if self.path == "/health/ready":
            self._send(b"ready")
            return
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.headers.get("Idempotency-Key")))
        if self.server.dying:  # the process died mid-request: closed, nothing answered
            self.close_connection = True
            return
        self._send(b"served")

    do_GET = do_POST = _answer

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_request_cut_off_by_a_dying_node_is_sent_again_only_when_safe(ha_tools, tmp_path):
    """The HAProxy rules of deploy/ha (as the HA run uses them): a read, or an SOS with its
    Idempotency-Key, that a node took and died on reaches the other node; no other write does."""
    dying, alive = _Node(dying=True), _Node(dying=False)
    for node in (dying, alive):
        threading.Thread(target=node.serve_forever, daemon=True).start()
    lb = Haproxy(tmp_path, [("127.0.0.1", n.server_address[1]) for n in (dying, alive)])
    lb.start()
    try:
        with httpx.Client(base_url=lb.http, timeout=10) as http:
            reads = [http.get("/api/v1/hospitals").status_code for _ in range(4)]
            sos = [http.post("/api/v1/emergency/cases", json={},
                             headers={"Idempotency-Key": f"k{i}"}).status_code for i in range(4)]
            writes = [http.post("/api/v1/units", json={}).status_code for _ in range(4)]
    finally:
        assert lb.process is not None
        lb.process.stop()
        for node in (dying, alive):
            node.shutdown()
    assert reads == [200] * 4 and sos == [200] * 4
    assert any(m == "GET" for m, _ in dying.seen)  # some did reach the dying node first
    assert 502 in writes  # a plain write cut off is answered 502, never replayed:
    plain = [m for m, key in dying.seen + alive.seen if m == "POST" and key is None]
    assert len(plain) == 4
    assert sorted(k for _, k in alive.seen if k) == ["k0", "k1", "k2", "k3"]
