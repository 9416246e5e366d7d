"""Private servers for tests and benchmarks: throwaway PostgreSQL and Redis, a TCP proxy that
delays or resets, and ``lifeline serve`` in its own process group, all on spare loopback ports.

The one way tests start the app out of process (:class:`Server`): black-box suites, page tests,
the fault and failover harnesses. Test code: bench/ imports it from here (the fault and failover
runs are the same harness, run short by tests/faults and long by ``make bench``); tests never
import bench/.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
LIFELINE = str(Path(sys.executable).with_name("lifeline"))
#: What a shell that runs ``make run`` has anyway (see :func:`shell_env`).
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "REDIS_URL")


def free_port() -> int:
    """A TCP port nobody listens on right now (never 8000, where ``make run`` serves)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != 8000:
            return port


def wait_until(what: str, ready: Callable[[], Any], timeout: float, step: float = 0.1) -> Any:
    """Poll ``ready()`` until it returns something truthy; an exception it raises is a failed
    poll, except AssertionError (the thing died: no point waiting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = ready()
            if value:
                return value
        except AssertionError:
            raise
        except Exception:  # noqa: BLE001 - not up yet: refused, reset, timed out
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(step)


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
    """A redis-server without persistence, which a run or a test kills, stops and restarts."""

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
        wait_until(f"redis-server on {self.port}", client.ping, 10, step=0.05)

    def kill(self) -> None:
        """SIGKILL: Redis dies with nothing saved."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: an orderly shutdown (a restart, an outage a test simulates)."""
        self._end(signal.SIGTERM)

    def _end(self, sig: int) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
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


def shell_env(database_url: str, **extra: str) -> dict[str, str]:
    """Only what a user's shell that runs ``make run`` has, pointed at this run's database and
    Redis key prefix: none of the test run's own environment is passed on."""
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update(
        DATABASE_URL=database_url,
        LIFELINE_REALTIME_STREAM_PREFIX=os.environ["LIFELINE_REALTIME_STREAM_PREFIX"] + "served:",
    )
    env.update(extra)
    return env


def from_address(source: str, base: str, **kwargs: Any) -> httpx.AsyncClient:
    """An HTTP client whose connections leave from ``source`` (127.0.0.2, 127.0.0.3, ...)."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=base, transport=transport, timeout=30, **kwargs)


@dataclass
class Server:
    """``lifeline serve`` started as the README says, in its own process group, on a spare port.

    ``env`` is the environment ``make run`` gives it (the database and Redis to use) plus what
    a test that is about a setting adds. Its log goes to ``log`` (a temporary file, deleted on
    ``stop``, unless the caller names one to keep); ``workers`` adds ``--workers N``.
    """

    env: dict[str, str]
    host: str = "127.0.0.1"
    workers: int | None = None
    port: int = field(default_factory=free_port)
    log: Path | None = None
    process: subprocess.Popen | None = None
    _temporary_log: bool = False

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def start(self) -> Server:
        if self.log is None:
            handle, name = tempfile.mkstemp(prefix=f"lifeline-serve-{self.port}-", suffix=".log")
            os.close(handle)
            self.log, self._temporary_log = Path(name), True
        workers = ["--workers", str(self.workers)] if self.workers else []
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [LIFELINE, "serve", "--host", self.host, "--port", str(self.port), *workers],
                cwd=ROOT, env=self.env, start_new_session=True, stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def log_text(self) -> str:
        """Everything the server has logged so far."""
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def wait_ready(self, timeout: float = 240, *, require_ready: bool = False) -> None:
        """Until ``/health`` answers (503 while Redis is down is a listening server), or with
        ``require_ready`` until ``/health/ready`` answers 200 and every worker runs."""
        # Generous: under coverage (which follows the server) on a busy machine, start-up
        # has taken over a minute; normally it is a few seconds.
        path, answers = ("/health/ready", {200}) if require_ready else ("/health", {200, 503})

        def ready() -> bool:
            if self.process is None or self.process.poll() is not None:
                raise AssertionError("server died:\n" + self.log_text()[-4000:])
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.http + path, timeout=1).status_code in answers:
                    return not require_ready or len(self.worker_pids()) >= (self.workers or 1)
            return False

        try:
            wait_until(f"lifeline serve on {self.http}", ready, timeout, step=0.1)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}:\n{self.log_text()[-4000:]}") from None

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the workers, or the server itself when it has none."""
        if self.process is None:
            return []
        if not self.workers:
            return [self.process.pid]
        try:
            children = psutil.Process(self.process.pid).children(recursive=False)
        except psutil.NoSuchProcess:
            return []
        workers = []
        for child in children:
            # A worker just killed stays a zombie until uvicorn reaps it (its cmdline() raises):
            # it is skipped, not allowed to hide the live ones (the fault run once found none).
            with contextlib.suppress(psutil.Error):
                command = " ".join(child.cmdline()).lower()
                # uvicorn's supervisor may also hold a multiprocessing helper; workers run python.
                if ("python" in command and "resource_tracker" not in command
                        and child.status() != psutil.STATUS_ZOMBIE):
                    workers.append(child.pid)
        return workers

    def holder_of(self, client_port: int | None) -> int | None:
        """The worker holding the TCP connection from ``client_port`` (the console's socket)."""
        for pid in self.worker_pids():
            with contextlib.suppress(psutil.Error):
                for conn in psutil.Process(pid).net_connections(kind="tcp"):
                    if conn.raddr and conn.raddr.port == client_port:
                        return pid
        return None

    def wait_for_workers(self, at_least: int | None = None, timeout: float = 60) -> None:
        """Until uvicorn runs ``at_least`` workers (default: all) again. It replaces a killed one
        within about a second, but stays blind for up to its 30 s health-check timeout when the
        worker died while answering a ping."""
        wanted = at_least or self.workers or 1
        wait_until(f"{wanted} running workers", lambda: len(self.worker_pids()) >= wanted,
                   timeout, step=0.1)

    def kill_one_worker(self, prefer_client_port: int | None = None) -> int:
        """SIGKILL a worker: the one serving the console when it can be found (once uvicorn runs
        one, as it may be replacing a worker killed before)."""
        self.wait_for_workers(at_least=1)
        pid = self.holder_of(prefer_client_port) or self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill(self) -> None:
        """SIGKILL the server and its workers at once (the machine is gone)."""
        self.stop(signal.SIGKILL)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal the whole process group; SIGKILL what is still there after 20 s."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
            self.process = None
        if self._temporary_log and self.log is not None:
            self.log.unlink(missing_ok=True)
            self.log, self._temporary_log = None, False

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """``lifeline ARGS`` with the server's environment, as an operator would run it."""
        return subprocess.run(
            [LIFELINE, *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
            timeout=120,
        )
