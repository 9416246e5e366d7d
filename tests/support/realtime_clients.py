"""A small WebSocket client for the tests, and helpers that make case changes over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import sos_body

CASES = "emergency.case.updated"


class Client:
    """One console connection that keeps every message it receives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}

    @classmethod
    async def open(
        cls, url: str, *, token: str | None = None, first: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Client:
        """Connect (query-parameter token, or ``first`` as the auth message) and await welcome."""
        if token is not None:
            url = f"{url}?token={token}"
        ws = await connect(url, open_timeout=10, **kwargs)
        client = cls(ws)
        if first is not None:
            await ws.send(json.dumps(first))
        welcome = await client.next()
        assert welcome["type"] == "welcome", welcome
        client.welcome = welcome
        return client

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next message."""
        message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.seen.append(message)
        return message

    async def next_of(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next message of type ``kind`` (others are kept in ``seen``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.next(max(deadline - loop.time(), 0.01))
            if message["type"] == kind:
                return message

    async def subscribe(
        self, channel: str = CASES, *, last_seq: int | None = None, **filters: str
    ) -> dict[str, Any]:
        """Subscribe and return the acknowledgement."""
        await self.ws.send(
            json.dumps(
                {"type": "subscribe", "channel": channel, "last_seq": last_seq, "filters": filters}
            )
        )
        return await self.next_of("subscribed")

    async def events(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Exactly the next ``count`` events."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        got: list[dict[str, Any]] = []
        while len(got) < count:
            message = await self.next(max(deadline - loop.time(), 0.01))
            if message["type"] == "event":
                got.append(message)
        return got

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Events that arrive within ``seconds`` (expected: none); heartbeats may come meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        got: list[dict[str, Any]] = []
        try:
            while (left := deadline - loop.time()) > 0:
                message = await self.next(left)
                if message["type"] == "event":
                    got.append(message)
        except TimeoutError:
            pass
        return got

    async def close(self) -> None:
        await self.ws.close()


async def raise_case(http: httpx.AsyncClient) -> str:
    """An SOS over HTTP; returns the case id."""
    response = await http.post("/api/v1/emergency/cases", json=sos_body())
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def raise_with_token(http: httpx.AsyncClient) -> tuple[str, str]:
    """An SOS; returns the case id and its case token."""
    response = await http.post("/api/v1/emergency/cases", json=sos_body())
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["case_token"]


async def triage(http: httpx.AsyncClient, case_id: str, headers: dict[str, str]) -> None:
    """Triage a case over HTTP."""
    response = await http.post(
        f"/api/v1/emergency/cases/{case_id}/triage", json={"severity": "high"}, headers=headers
    )
    assert response.status_code == 200, response.text
