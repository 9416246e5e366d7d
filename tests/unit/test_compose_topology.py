"""docker-compose.yml is kept correct by reading (no Docker engine here): this reads it.

The `ha` profile must describe the topology bench/failover.py measures, with URLs the app
parses the way it does on loopback, and the single-node services must stay the default.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from sqlalchemy import make_url

from data.db import sync_url
from data.redis_client import parse_sentinel_url

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def ha(name: str) -> bool:
    return "ha" in SERVICES[name].get("profiles", [])


def test_single_node_stays_the_default() -> None:
    default = sorted(name for name, spec in SERVICES.items() if not spec.get("profiles"))
    assert default == ["app", "db", "redis"]


def test_the_ha_profile_is_the_measured_topology() -> None:
    names = [name for name in SERVICES if ha(name)]
    kinds = sorted(re.sub(r"\d+$", "", name) for name in names)
    assert kinds == sorted(["etcd", "pg", "pg", "redis", "redis", "sentinel", "sentinel",
                            "sentinel", "app", "app", "lb"])
    for name in names:  # nothing of the HA profile depends on the single-node services
        assert not set(SERVICES[name].get("depends_on", {})) & {"db", "redis", "app"}
        for dependency in SERVICES[name].get("depends_on", {}):
            assert ha(dependency), (name, dependency)


def test_app_nodes_reach_both_postgres_nodes_and_the_sentinels() -> None:
    for name in ("app1", "app2"):
        env = SERVICES[name]["environment"]
        url = make_url(sync_url(env["DATABASE_URL"].replace("${LIFELINE_DB_PASSWORD}", "pw")))
        assert url.query["host"] == ("pg1:5432", "pg2:5432")
        assert url.query["target_session_attrs"] == "read-write"
        sentinel = parse_sentinel_url(env["REDIS_URL"])
        assert sentinel.sentinels == tuple((f"sentinel{i}", 26379) for i in (1, 2, 3))
        monitor = (ROOT / "deploy/ha/sentinel.conf").read_text()
        assert f"sentinel monitor {sentinel.service} redis1 6379 2" in monitor
        assert "/health/ready" in " ".join(SERVICES[name]["healthcheck"]["test"])


def test_haproxy_checks_readiness_of_both_app_nodes() -> None:
    config = (ROOT / "deploy/ha/haproxy.cfg").read_text()
    assert "option httpchk GET /health/ready" in config
    for name in ("app1", "app2"):
        assert f"server {name} {name}:8000 check" in config
    mount = "./deploy/ha/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"
    assert SERVICES["lb"]["volumes"] == [mount]


def test_the_ha_run_proves_the_retry_rules_that_deploy_ships() -> None:
    """tests/support/ha.py writes its own HAProxy config for loopback: the same replay rules."""
    deploy = (ROOT / "deploy/ha/haproxy.cfg").read_text()
    harness = (ROOT / "tests/support/ha.py").read_text().replace("{{", "{").replace("}}", "}")
    replay_only_if_safe = (
        "http-request disable-l7-retry if !METH_GET !{ req.hdr(Idempotency-Key) -m found }")
    for rule in ("retries 3", "option redispatch 1", "retry-on conn-failure empty-response",
                 "option http-buffer-request", replay_only_if_safe):
        assert rule in deploy and rule in harness, rule


def test_patroni_nodes_share_one_configuration_with_synchronous_mode() -> None:
    patroni = yaml.safe_load((ROOT / "deploy/ha/patroni.yml").read_text())
    assert patroni["bootstrap"]["dcs"]["synchronous_mode"] is True
    assert patroni["etcd3"]["hosts"] == "etcd:2379"
    assert {SERVICES[n]["environment"]["PATRONI_NAME"] for n in ("pg1", "pg2")} == {"pg1", "pg2"}
