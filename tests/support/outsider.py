"""An outsider's tools: `lifeline serve` in its own process, the CLI, HTTP and WebSocket clients.

Nothing here reaches into the server's memory: what the tests learn, they learn over the wire
(or, for the administrator's steps, through the `lifeline` command, as an operator would).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import PASSWORD, REDIS_URL
from tests.support.servers import LIFELINE, ROOT, Server


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    """What `make run` exports (DATABASE_URL, REDIS_URL), plus ``extra`` (each test that
    passes one is about that very setting, and says so)."""
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL}
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `lifeline ARGS...` as an administrator would."""
    done = subprocess.run(  # our own CLI, fixed arguments
        [LIFELINE, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def serve(env: dict[str, str]) -> Server:
    """`lifeline serve` on a spare port, as `make run` starts it, once it answers ready."""
    server = Server(env).start()
    try:
        server.wait_ready(90, require_ready=True)
    except BaseException:
        server.stop()
        raise
    return server


@dataclass(frozen=True)
class Account:
    """A user the administrator created, signed in over HTTP."""

    email: str
    user_id: str
    access: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


def provision(env: dict[str, str], role: str, *, hospital_id: str | None = None,
              totp: bool = True) -> tuple[str, str | None]:
    """`lifeline users create`: returns the email and the TOTP secret (staff)."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@outsider.test"
    secret = pyotp.random_base32(length=32) if totp else None
    args = ["users", "create", "--email", email, "--password", PASSWORD, "--role", role]
    if hospital_id:
        args += ["--hospital-id", hospital_id]
    if secret:
        args += ["--totp-secret", secret]
    cli(env, *args)
    return email, secret


async def sign_in(http: httpx.AsyncClient, email: str, secret: str | None) -> Account:
    """POST /auth/login (with the current TOTP code for staff)."""
    body: dict[str, Any] = {"email": email, "password": PASSWORD}
    if secret:
        body["totp"] = pyotp.TOTP(secret).now()
    r = await http.post("/api/v1/auth/login", json=body)
    assert r.status_code == 200, r.text
    tokens = r.json()
    me = await http.get("/api/v1/users/me",
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.text
    return Account(email, me.json()["id"], tokens["access_token"], tokens["refresh_token"])


async def account(env: dict[str, str], http: httpx.AsyncClient, role: str,
                  *, hospital_id: str | None = None) -> Account:
    """Provision and sign in."""
    email, secret = provision(env, role, hospital_id=hospital_id, totp=role != "patient")
    return await sign_in(http, email, secret)


class Socket:
    """A WebSocket that keeps what it reads and how it ended."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, first: dict[str, Any] | None = None) -> Socket:
        ws = await connect(url, open_timeout=10, max_size=2**22)
        sock = cls(ws)
        if first is not None:
            await ws.send(json.dumps(first))
        return sock

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        raw = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        for item in raw if isinstance(raw, list) else [raw]:
            self.seen.append(item)
        return raw[-1] if isinstance(raw, list) else raw

    async def next_of(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            start = len(self.seen)
            await self.next(max(deadline - loop.time(), 0.01))
            for item in self.seen[start:]:
                if item.get("type") == kind:
                    return item

    async def wait_for(self, predicate, timeout: float = 10.0) -> dict[str, Any]:
        """The first message (already read or still to come) that satisfies ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        checked = 0
        while True:
            for item in self.seen[checked:]:
                if predicate(item):
                    return item
            checked = len(self.seen)
            try:
                await self.next(max(deadline - loop.time(), 0.01))
            except TimeoutError:
                raise AssertionError(f"not seen in {timeout} s; seen: {self.seen}") from None

    async def closed_with(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes; its close code (None if it stayed open)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while loop.time() < deadline:
                await self.next(max(deadline - loop.time(), 0.01))
        except TimeoutError:
            return None
        except Exception:  # noqa: BLE001 - ConnectionClosed: the server ended it
            pass
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()


def crew_token_from(body: str) -> str:
    """The crew link's token in the dispatch SMS."""
    found = re.search(r"/crew/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", body)
    assert found, body
    return found.group(1)
