"""The vehicles' GPS socket against real workers: batched storage, cumulative acks, refusals."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.conftest import sign_in
from tests.support.realtime import token_of
from tests.support.realtime_clients import Client, raise_case, triage

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def new_unit(http, operator) -> str:
    r = await http.post("/api/v1/units", headers=operator.headers, json={
        "call_sign": f"TM-{uuid.uuid4().hex[:6]}", "type": "ALS",
        "station_lat": 60.17, "station_lng": 24.94, "crew_phones": ["+358401119999"]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def fix(n: int, unit_id: str, at: datetime, lat: float = 60.17) -> dict[str, Any]:
    return {"type": "fix", "n": n, "unit_id": unit_id, "lat": lat, "lng": 24.94,
            "heading": 90.0, "speed": 10.0, "recorded_at": at.isoformat()}


async def replies_until_ack(ws, n: int) -> list[dict[str, Any]]:
    """Every message until the cumulative ack reaches ``n`` (frames may hold arrays)."""
    seen: list[dict[str, Any]] = []
    while True:
        body = json.loads(await ws.recv())
        for message in body if isinstance(body, list) else [body]:
            seen.append(message)
            if message["type"] == "ack" and message["n"] >= n:
                return seen


async def test_fixes_are_stored_in_batches_acked_and_pushed(servers, rt_operator, http_a):
    a, b = servers
    unit_id = await new_unit(http_a, rt_operator)
    console = await Client.open(b.ws, token=token_of(rt_operator))
    await console.subscribe("unit.position.updated")
    base = datetime.now(UTC) - timedelta(seconds=10)
    async with connect(f"{a.ws}/telemetry?token={token_of(rt_operator)}") as ws:
        assert json.loads(await ws.recv()) == {"type": "ready"}
        for n in range(5):
            await ws.send(
                json.dumps(fix(n, unit_id, base + timedelta(seconds=n), 60.17 + n * 1e-3))
            )
        await ws.send(json.dumps(fix(5, str(uuid.uuid4()), base)))  # no such unit
        await ws.send('{"type": "fix", "n": 6}')  # malformed
        await ws.send(json.dumps({"type": "fixes", "fixes": [
            fix(7, unit_id, base - timedelta(seconds=5)),  # older than the live one: trail only
            fix(8, unit_id, datetime.now(UTC) + timedelta(hours=1)),  # from the future
        ]}))
        replies = await replies_until_ack(ws, 8)
    nacks = {m["n"]: m["code"] for m in replies if m["type"] == "nack"}
    assert nacks == {5: "unit_not_found", 8: "invalid_input"}
    assert any(m["type"] == "error" and m["code"] == "invalid_fix" for m in replies)
    view = (await http_a.get(f"/api/v1/units/{unit_id}", headers=rt_operator.headers)).json()
    assert view["position"] == {"lat": 60.174, "lng": 24.94}
    assert datetime.fromisoformat(view["position_recorded_at"]) == base + timedelta(seconds=4)
    pushed = []
    while not pushed or pushed[-1]["recorded_at"] != (base + timedelta(seconds=4)).isoformat():
        event = await console.next_of("event")
        if event["data"]["unit_id"] == unit_id:
            pushed.append(event["data"])
    assert pushed[-1]["lat"] == 60.174 and pushed[-1]["call_sign"].startswith("TM-")
    await console.close()


async def crew_token_of(http, case_id: str, headers) -> str:
    """The crew link the dispatch SMS carries."""
    outbox = (await http.get("/api/v1/sms/outbox", params={"case_id": case_id},
                             headers=headers)).json()
    body = next(m["body"] for m in outbox if "/crew/" in m["body"])
    return re.search(r"/crew/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", body).group(1)


async def test_a_crew_token_reports_for_its_own_unit_only(servers, rt_operator, http_a,
                                                         identity_settings):
    a, _ = servers
    own, other = await new_unit(http_a, rt_operator), await new_unit(http_a, rt_operator)
    # A crew link acts only while its dispatch is live (issue 18): a real dispatch of ``own``.
    case_id = await raise_case(http_a)
    await triage(http_a, case_id, rt_operator.headers)
    r = await http_a.post(f"/api/v1/emergency/cases/{case_id}/dispatch",
                          json={"unit_id": own}, headers=rt_operator.headers)
    assert r.status_code == 200, r.text
    token = await crew_token_of(http_a, case_id, rt_operator.headers)
    now = datetime.now(UTC)
    async with connect(f"{a.ws}/telemetry") as ws:
        await ws.send(json.dumps({"type": "auth", "crew_token": token}))
        assert json.loads(await ws.recv()) == {"type": "ready"}
        await ws.send(json.dumps(fix(1, own, now)))
        await ws.send(json.dumps(fix(2, other, now)))
        replies = await replies_until_ack(ws, 2)
    assert [m["code"] for m in replies if m["type"] == "nack"] == ["unit_forbidden"]


async def test_over_the_unit_limit_fixes_are_refused_not_queued(servers, rt_operator, http_a):
    a, _ = servers
    unit_id = await new_unit(http_a, rt_operator)
    start = datetime.now(UTC) - timedelta(seconds=5)
    async with connect(f"{a.ws}/telemetry?token={token_of(rt_operator)}") as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "fixes", "fixes": [
            fix(n, unit_id, start + timedelta(milliseconds=10 * n)) for n in range(25)]}))
        replies = await replies_until_ack(ws, 24)
    limited = [m for m in replies if m["type"] == "nack" and m["code"] == "rate_limited"]
    assert 5 <= len(limited) <= 15


@pytest.mark.parametrize("first", [
    {"type": "auth", "token": "not-a-token"},
    {"type": "auth", "crew_token": "forged.token"},
    {"type": "auth"},
    {"type": "hello"},
])
async def test_a_socket_without_valid_credentials_is_closed(servers, first):
    a, _ = servers
    async with connect(f"{a.ws}/telemetry") as ws:
        await ws.send(json.dumps(first))
        error = json.loads(await ws.recv())
        assert error["type"] == "error"
        await ws.wait_closed()
        assert ws.close_code == 4001


async def test_a_patient_token_may_not_report_positions(servers, rt_app, http_a):
    a, _ = servers
    patient = await sign_in(rt_app, http_a, "patient")
    async with connect(f"{a.ws}/telemetry?token={token_of(patient)}") as ws:
        assert json.loads(await ws.recv())["code"] == "role_forbidden"
        await ws.wait_closed()
        assert ws.close_code == 4001


async def test_batch_sockets_get_array_frames_with_every_message_once(servers, rt_operator, http_a):
    from tests.support.realtime_clients import raise_case

    a, b = servers
    async with connect(f"{b.ws}?token={token_of(rt_operator)}&batch=1") as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "subscribe", "channel": "emergency.case.updated",
                                  "filters": {}}))
        raised = {await raise_case(http_a) for _ in range(6)}
        seen: list[str] = []
        while set(seen) != raised:
            frame = json.loads(await ws.recv())
            assert isinstance(frame, list)
            seen += [m["data"]["case_id"] for m in frame
                     if m["type"] == "event" and m["event_type"] == "case.raise"]
        assert sorted(seen) == sorted(raised)  # each once
