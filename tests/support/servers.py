"""Private servers for tests and benchmarks: throwaway PostgreSQL and Redis, a TCP proxy that
delays or resets, and ``lifeline serve`` in its own process group, all on spare loopback ports.

Test code: bench/ imports it from here (the fault and failover runs are the same harness, run
short by tests/faults and long by ``make bench``); tests never import bench/.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """PostgreSQL refuses to run as root: run its tools as the postgres user when we are root."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kwargs)


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster (with PostGIS available) on a spare port."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lifeline-pg-")))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/lifeline"

    @property
    def libpq(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/lifeline"

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                      "postgres", "--no-sync", "-E", "UTF8"])
        self.start()
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE lifeline")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.root} -c max_connections=200")
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
                      str(self.root / "server.log"), "-o", options, "-w", "-t", "30", "start"])

    def crash(self) -> None:
        """Immediate shutdown: no checkpoint, connections cut, recovery on the next start."""
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"])

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "stop"])
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A redis-server without persistence, which the run kills and restarts."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


class TcpProxy:
    """A loopback TCP proxy that can delay every chunk and reset every open connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.delay_s = 0.0
        self.server: asyncio.AbstractServer | None = None
        self.links: set[asyncio.StreamWriter] = set()
        self.resets = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            while chunk := await reader.read(65536):
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                writer.write(chunk)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        self.links |= {client_w, server_w}
        try:
            await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))
        finally:
            self.links -= {client_w, server_w}

    def reset_all(self) -> int:
        """Abort every proxied connection (an RST to both sides)."""
        cut = 0
        for writer in list(self.links):
            writer.transport.abort()
            cut += 1
        self.resets += 1
        return cut // 2

    async def stop(self) -> None:
        self.reset_all()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)


@dataclass
class Api:
    """``lifeline serve --workers N`` in its own process group."""

    env: dict[str, str]
    workers: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, log_path: Path) -> None:
        self.log_path = log_path
        lifeline = Path(sys.executable).with_name("lifeline")
        self.process = subprocess.Popen(
            [str(lifeline), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(self.workers)],
            cwd=ROOT, env=self.env, start_new_session=True,
            stdout=log_path.open("w"), stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, "API died"
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(self.http + "/health/ready", timeout=1).status_code == 200
                if ready and len(self.worker_pids()) >= self.workers:
                    return
            time.sleep(0.2)
        raise TimeoutError("API did not become ready")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        with contextlib.suppress(psutil.NoSuchProcess):
            children = psutil.Process(self.process.pid).children(recursive=False)
            # uvicorn's supervisor may also hold a multiprocessing helper; workers run python.
            return [c.pid for c in children if "python" in " ".join(c.cmdline()).lower()
                    and "resource_tracker" not in " ".join(c.cmdline())]
        return []

    def holder_of(self, client_port: int | None) -> int | None:
        """The worker holding the TCP connection from ``client_port`` (the console's socket)."""
        for pid in self.worker_pids():
            with contextlib.suppress(psutil.Error):
                for conn in psutil.Process(pid).net_connections(kind="tcp"):
                    if conn.raddr and conn.raddr.port == client_port:
                        return pid
        return None

    def kill_one_worker(self, prefer_client_port: int | None = None) -> int:
        """SIGKILL a worker: the one serving the console when it can be found."""
        pid = self.holder_of(prefer_client_port) or self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.process = None


LIFELINE = str(Path(sys.executable).with_name("lifeline"))


class RedisServer(PrivateRedis):
    """A throwaway redis-server without persistence, which tests may stop and start."""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@dataclass
class Server:
    """One worker of the API in its own process, started as the README says: ``lifeline serve``.

    Its JSON log lines go to a file (``log``), which a test may wait on; ``env`` is the
    environment ``make run`` gives it (the database and Redis to use) plus what a test adds.
    """

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> None:
        if self.log is None:
            handle, name = tempfile.mkstemp(prefix=f"lifeline-serve-{self.port}-", suffix=".log")
            os.close(handle)
            self.log = Path(name)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [LIFELINE, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )

    def log_text(self) -> str:
        """Everything the server has logged so far."""
        return self.log.read_text(errors="replace") if self.log else ""

    def wait_ready(self) -> None:
        # Generous: under coverage (which follows the server) on a busy machine, start-up
        # has taken over a minute; normally it is a few seconds.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise AssertionError("server died:\n" + self.log_text()[-4000:])
            try:
                if httpx.get(self.http + "/health", timeout=1).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # polling the health endpoint until the deadline
        raise TimeoutError("server did not start:\n" + self.log_text()[-4000:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.log is not None:
            self.log.unlink(missing_ok=True)
            self.log = None
