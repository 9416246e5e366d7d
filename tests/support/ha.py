"""A private high-availability Lifeline on loopback: the topology of docker-compose.yml.

etcd, two Patroni-managed PostgreSQL 15 nodes (synchronous standby), Redis with one replica
and three sentinels, two ``lifeline serve`` nodes on 127.0.0.2 and 127.0.0.3, and HAProxy in
front of them checking ``/health/ready``. Everything listens on spare ports and lives under one
temporary directory; :meth:`HaStack.destroy` kills every process it started, even after a
failure. Used by bench/failover.py and tests/e2e/test_failover.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import redis

from tests.support.servers import PG_BIN, ROOT, Server, free_port

SERVICE = "lifeline"  # Patroni scope and Sentinel master name


def _wait(what: str, ready: Any, timeout: float, step: float = 0.1) -> Any:
    """Poll ``ready()`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            value = ready()
            if value:
                return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(step)


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and everything below it at once (a machine losing power)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(procs, timeout=5)


def _kill_mentioning(marker: str) -> None:
    """SIGKILL every process whose command line mentions ``marker`` (our temp dir)."""
    for proc in psutil.process_iter(["pid", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if proc.pid != os.getpid() and marker in " ".join(proc.info["cmdline"] or ()):
                proc.kill()


@dataclass
class Process:
    """A child in its own session, with its output in a log file."""

    args: list[str]
    log: Path
    user: str | None = None
    env: dict[str, str] | None = None
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        self.popen = subprocess.Popen(
            self.args, stdout=self.log.open("a"), stderr=subprocess.STDOUT,
            start_new_session=True, user=self.user, env=self.env, cwd=ROOT,
        )

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        if self.popen is not None:
            _kill_tree(self.popen.pid)
            self.popen.wait(5)

    def stop(self, timeout: float = 10) -> None:
        if not self.alive:
            return
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Etcd:
    """One etcd member (the compose file runs one too; three in a real deployment)."""

    root: Path
    client_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    process: Process | None = None

    def start(self) -> None:
        client, peer = f"http://127.0.0.1:{self.client_port}", f"http://127.0.0.1:{self.peer_port}"
        self.process = Process(
            ["etcd", "--name", "etcd1", "--data-dir", str(self.root / "etcd"),
             "--listen-client-urls", client, "--advertise-client-urls", client,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"etcd1={peer}", "--log-level", "warn"],
            self.root / "etcd.log",
        )
        self.process.start()
        _wait("etcd", lambda: httpx.get(client + "/health", timeout=1).status_code == 200, 30)


PATRONI_YML = """\
scope: {scope}
namespace: /{namespace}/
name: {name}
restapi:
  listen: 127.0.0.1:{api_port}
  connect_address: 127.0.0.1:{api_port}
etcd3:
  hosts: 127.0.0.1:{etcd_port}
bootstrap:
  dcs:
    # A lost primary's leader key expires after ttl; the standby's next loop promotes it.
    ttl: 6
    loop_wait: 1
    retry_timeout: 2
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_log_hints: "on"
        max_connections: 200
  initdb:
    - encoding: UTF8
    - auth: trust
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:{pg_port}
  connect_address: 127.0.0.1:{pg_port}
  data_dir: {data}
  bin_dir: {bin_dir}
  pgpass: {root}/pgpass
  remove_data_directory_on_rewind_failure: true
  authentication:
    superuser: {{username: postgres, password: postgres}}
    replication: {{username: replicator, password: replicator}}
  parameters:
    unix_socket_directories: {root}
"""


@dataclass
class PatroniNode:
    """Patroni and the PostgreSQL it manages, as one 'machine' that can be killed whole."""

    name: str
    root: Path
    etcd: Etcd
    namespace: str
    pg_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    process: Process | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def write_config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "patroni.yml"
        config.write_text(PATRONI_YML.format(
            scope=SERVICE, namespace=self.namespace, name=self.name, api_port=self.api_port,
            etcd_port=self.etcd.client_port, pg_port=self.pg_port, data=self.root / "data",
            bin_dir=PG_BIN, root=self.root,
        ))
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            for path in (self.root, config):
                shutil.chown(path, "postgres", "postgres")
        self.root.chmod(0o700)
        return config

    def start(self) -> None:
        config = self.write_config()
        user = "postgres" if os.geteuid() == 0 else None
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root)}
        self.process = Process(["patroni", str(config)], self.root / "patroni.log", user=user,
                               env=env)
        self.process.start()

    def state(self) -> dict[str, Any]:
        return httpx.get(self.api + "/patroni", timeout=1).json()

    def is_primary(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(self.api + "/primary", timeout=1).status_code == 200
        return False

    def kill(self) -> None:
        """kill -9 Patroni and every PostgreSQL process of this node at once."""
        if self.process is not None:
            self.process.kill()
        _kill_mentioning(str(self.root / "data"))

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(15)
        _kill_mentioning(str(self.root / "data"))


@dataclass
class PatroniCluster:
    """etcd plus a primary and a synchronous standby."""

    root: Path
    etcd: Etcd = field(init=False)
    nodes: list[PatroniNode] = field(init=False)

    def __post_init__(self) -> None:
        self.etcd = Etcd(self.root)
        namespace = f"lifeline-{uuid.uuid4().hex[:8]}"
        self.nodes = [PatroniNode(f"pg{i}", self.root / f"pg{i}", self.etcd, namespace)
                      for i in (1, 2)]

    def libpq_url(self, database: str = "lifeline", *, attrs: str = "read-write") -> str:
        """The multi-host URL the app uses: libpq tries each host, keeps the writable one."""
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in self.nodes)
        return (f"postgresql://postgres@{hosts}/{database}"
                f"?target_session_attrs={attrs}&connect_timeout=2")

    def start(self, timeout: float = 90) -> None:
        self.etcd.start()
        first, second = self.nodes
        first.start()
        _wait("Patroni primary", first.is_primary, timeout, 0.3)
        second.start()
        self.wait_members(timeout)
        with psycopg.connect(self.libpq_url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE lifeline")

    def members(self) -> list[dict[str, Any]]:
        for node in self.nodes:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                return httpx.get(node.api + "/cluster", timeout=1).json()["members"]
        return []

    def wait_members(self, timeout: float) -> list[dict[str, Any]]:
        """Until there is a leader and a streaming synchronous standby on its timeline."""

        def healthy() -> list[dict[str, Any]] | None:
            members = self.members()
            roles = {m["role"]: m for m in members}
            leader, standby = roles.get("leader"), roles.get("sync_standby")
            if leader and standby and standby.get("state") in {"running", "streaming"} and (
                    standby.get("timeline") == leader.get("timeline")):
                return members
            return None

        return _wait("synchronous standby", healthy, timeout, 0.3)

    def primary(self) -> PatroniNode | None:
        return next((n for n in self.nodes if n.is_primary()), None)

    def destroy(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()
        if self.etcd.process is not None:
            self.etcd.process.stop()


SENTINEL_CONF = """\
port {port}
bind 127.0.0.1
dir {root}
sentinel resolve-hostnames no
sentinel monitor {service} 127.0.0.1 {master_port} 2
sentinel down-after-milliseconds {service} 1000
sentinel failover-timeout {service} 4000
sentinel parallel-syncs {service} 1
"""


@dataclass
class SentinelRedis:
    """A Redis master, one replica and three sentinels (quorum two)."""

    root: Path
    ports: list[int] = field(default_factory=lambda: [free_port(), free_port()])
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    servers: dict[int, Process] = field(default_factory=dict)
    sentinels: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def _server(self, port: int, *extra: str) -> None:
        process = Process(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "no", "--dir", str(self.root),
                           *extra], self.root / f"redis-{port}.log")
        process.start()
        self.servers[port] = process
        client = redis.Redis(port=port, socket_connect_timeout=0.2)
        _wait(f"redis {port}", client.ping, 10, 0.05)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        master, replica = self.ports
        self._server(master)
        self._server(replica, "--replicaof", "127.0.0.1", str(master))
        for port in self.sentinel_ports:
            conf = self.root / f"sentinel-{port}.conf"
            conf.write_text(SENTINEL_CONF.format(port=port, root=self.root, service=SERVICE,
                                                 master_port=master))
            process = Process(["redis-sentinel", str(conf)], self.root / f"sentinel-{port}.log")
            process.start()
            self.sentinels.append(process)
        _wait("redis replica in sync", self._replica_synced, 20, 0.1)
        _wait("sentinels", self._sentinels_agree, 20, 0.1)

    def _replica_synced(self) -> bool:
        info = redis.Redis(port=self.ports[1], socket_connect_timeout=0.2).info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_agree(self) -> bool:
        for port in self.sentinel_ports:
            client = redis.Redis(port=port, socket_connect_timeout=0.2)
            master = client.sentinel_master(SERVICE)
            if master.get("num-other-sentinels", 0) < 2 or master.get("num-slaves", 0) < 1:
                return False
        return True

    def master_port(self) -> int | None:
        """The master according to the sentinels."""
        for port in self.sentinel_ports:
            with contextlib.suppress(redis.RedisError):
                client = redis.Redis(port=port, socket_connect_timeout=0.2)
                address = client.sentinel_get_master_addr_by_name(SERVICE)
                if address:
                    return int(address[1])
        return None

    def stop_master(self) -> int:
        """Stop the current master the way an operator or a crash-free shutdown would."""
        port = self.master_port() or self.ports[0]
        self.servers[port].stop(10)
        return port

    def destroy(self) -> None:
        for process in [*self.sentinels, *self.servers.values()]:
            process.kill()


HAPROXY_CFG = """\
global
    maxconn 4000
defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    # A request whose connection failed (a dead node) is sent to the other node.
    retries 3
    option redispatch 1
    # So is a request in flight when its node dies (closed with no answer): a read, or a write
    # carrying an Idempotency-Key (SOS intake), is sent again to the other node; no other write.
    # The whole request is held before it is sent, so that it can be sent again.
    retry-on conn-failure empty-response
    option http-buffer-request
frontend lifeline
    bind 127.0.0.1:{port}
    use_backend consoles if {{ path_beg /ws }}
    default_backend api
backend api
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1
    http-request disable-l7-retry if !METH_GET !{{ req.hdr(Idempotency-Key) -m found }}
{api_servers}
backend consoles
    balance leastconn
{console_servers}
"""


@dataclass
class Haproxy:
    """HAProxy in front of the app nodes, health-checking /health/ready.

    When every node fails its readiness check at once the cause is a shared dependency
    (PostgreSQL or Redis failing over), not the nodes: the unchecked ``backup`` entries then
    keep sending traffic to them, since an emergency is never refused and SOS intake retries
    on the new primary by itself. A dead node still fails its connection and is redispatched; a
    request it took and died on is sent again when that is safe (a read, an Idempotency-Key).
    """

    root: Path
    nodes: list[tuple[str, int]]
    port: int = field(default_factory=free_port)
    process: Process | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        api, consoles = [], []
        for i, (host, port) in enumerate(self.nodes, 1):
            api.append(f"    server app{i} {host}:{port} check")
            consoles.append(f"    server app{i} {host}:{port} track api/app{i}")
        for i, (host, port) in enumerate(self.nodes, 1):
            api.append(f"    server app{i}-open {host}:{port} backup")
            consoles.append(f"    server app{i}-open {host}:{port} backup")
        api.append("    option allbackups")
        consoles.append("    option allbackups")
        return HAPROXY_CFG.format(port=self.port, api_servers="\n".join(api),
                                  console_servers="\n".join(consoles))

    def start(self) -> None:
        config = self.root / "haproxy.cfg"
        config.write_text(self.config())
        subprocess.run(["haproxy", "-c", "-q", "-f", str(config)], check=True)
        self.process = Process(["haproxy", "-db", "-f", str(config)], self.root / "haproxy.log")
        self.process.start()
        _wait("haproxy", lambda: httpx.get(self.http + "/health/ready", timeout=2)
              .status_code == 200, 30, 0.2)


@dataclass
class HaStack:
    """Every piece, started in dependency order and always torn down."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lifeline-ha-")))
    postgres: PatroniCluster = field(init=False)
    redis: SentinelRedis = field(init=False)
    apps: list[Server] = field(default_factory=list)
    lb: Haproxy | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.postgres = PatroniCluster(self.root / "postgres")
        self.redis = SentinelRedis(self.root / "redis")

    def start_services(self) -> None:
        self.root.chmod(0o711)  # mkdtemp's 0700 would keep the postgres user out
        (self.root / "postgres").mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root / "postgres", "postgres", "postgres")
        self.redis.start()
        self.postgres.start()

    def app_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.postgres.libpq_url(), REDIS_URL=self.redis.url,
            DATABASE_READ_URL=self.postgres.libpq_url(attrs="prefer-standby"),
            LIFELINE_DATA_DIR=str(self.root / "app"),
            LIFELINE_REALTIME_STREAM_PREFIX=f"failover:{uuid.uuid4().hex}:",
            LIFELINE_SMS_SENDER="false", PYTHONPATH=str(ROOT),
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.env = env
        return env

    def start_apps(self, hosts: tuple[str, ...] = ("127.0.0.2", "127.0.0.3")) -> None:
        (self.root / "app").mkdir(exist_ok=True)
        # One machine of the app tier per loopback address.
        self.apps = [Server(self.env, host=host, log=self.root / f"app-{host}.log")
                     for host in hosts]
        for app in self.apps:
            app.start()
        for app in self.apps:
            app.wait_ready(90, require_ready=True)
        self.lb = Haproxy(self.root, [(a.host, a.port) for a in self.apps])
        self.lb.start()

    def destroy(self) -> None:
        steps = [app.stop for app in self.apps]
        if self.lb is not None and self.lb.process is not None:
            steps.append(self.lb.process.kill)
        steps += [self.redis.destroy, self.postgres.destroy]
        for step in steps:
            with contextlib.suppress(Exception):
                step()
        _kill_mentioning(str(self.root))
        shutil.rmtree(self.root, ignore_errors=True)
