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

import pytest

from tests.support.failover import TARGETS_S, Plan, run
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
