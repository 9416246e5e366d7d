"""``lifeline serve`` started as a user starts it, for black-box attack replays over HTTP.

The environment is the one ``make run`` gives, plus only what a test run needs to stay apart
from other runs: ``DATABASE_URL`` (this run's database) and ``LIFELINE_REALTIME_STREAM_PREFIX``
(this run's Redis keys). None of the test suite's own overrides (raised rate limits) is passed on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
LIFELINE = Path(sys.executable).with_name("lifeline")
#: What a shell that runs ``make run`` has anyway.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "REDIS_URL")


def free_port() -> int:
    """A TCP port nobody listens on right now (never 8000)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != 8000:
            return port


def user_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a user's shell pointed at this run's database and Redis prefix."""
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update(
        DATABASE_URL=database_url,
        LIFELINE_REALTIME_STREAM_PREFIX=os.environ["LIFELINE_REALTIME_STREAM_PREFIX"] + "served:",
    )
    env.update(extra)
    return env


@dataclass
class Served:
    """One ``lifeline serve --port N`` process (its own process group)."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log = Path(f"/tmp/lifeline-served-{os.getpid()}-{self.port}.log")
        self.process = subprocess.Popen(
            [str(LIFELINE), "serve", "--port", str(self.port)],
            cwd=ROOT, env=self.env, start_new_session=True,
            stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lifeline serve exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/health/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError("lifeline serve did not become ready")

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

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """``lifeline ARGS`` with the server's environment, as an operator would run it."""
        return subprocess.run(
            [str(LIFELINE), *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
            timeout=120,
        )


def from_address(source: str, base: str, **kwargs: object) -> httpx.AsyncClient:
    """An HTTP client whose connections leave from ``source`` (127.0.0.2, 127.0.0.3, ...)."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=base, transport=transport, timeout=30, **kwargs)
