"""Long-poll and SSE: the same events, authorisation and resume over plain HTTP."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.conftest import sign_in
from tests.support.realtime_clients import CASES, raise_case, raise_with_token, triage

pytestmark = pytest.mark.asyncio(loop_scope="session")

EVENTS = "/api/v1/realtime/events"
SSE = "/api/v1/realtime/sse"


async def poll_until(
    http: httpx.AsyncClient, count: int, *, after: int, headers: dict[str, str], **params: str
) -> tuple[list[dict], int]:
    """Long-poll from ``after`` until ``count`` events came (the relay may publish them in
    several batches, and a poll answers as soon as there is anything)."""
    events: list[dict] = []
    deadline = time.monotonic() + 10
    while len(events) < count and time.monotonic() < deadline:
        page = await http.get(
            EVENTS, params={"channel": CASES, "after": after, "timeout": 2, **params},
            headers=headers,
        )
        assert page.status_code == 200, page.text
        events += page.json()["events"]
        after = page.json()["last_seq"]
    return events, after


async def parked_long_polls(http: httpx.AsyncClient) -> float:
    """Long-polls waiting on this worker, from its /metrics (open to loopback)."""
    text = (await http.get("/metrics")).text
    line = next(ln for ln in text.splitlines() if ln.startswith("lifeline_long_poll_waiting "))
    return float(line.split()[1])


async def wait_for_parked_long_poll(http: httpx.AsyncClient, request: asyncio.Task) -> None:
    """Return once the worker reports the long-poll parked (a deadline, not a guess)."""
    deadline = time.monotonic() + 10
    while await parked_long_polls(http) < 1:
        assert not request.done(), request.result().text
        assert time.monotonic() < deadline, "the long-poll was never parked"
        await asyncio.sleep(0.02)


async def test_long_poll_returns_missed_events_at_once_and_waits_for_new_ones(
    servers, http_a, rt_operator
) -> None:
    auth = rt_operator.headers
    empty = await http_a.get(EVENTS, params={"channel": CASES, "timeout": 0.2}, headers=auth)
    assert empty.status_code == 200 and empty.json()["events"] == []
    head = empty.json()["last_seq"]

    raised = [await raise_case(http_a) for _ in range(3)]
    events, last_seq = await poll_until(http_a, 3, after=head, headers=auth)
    assert [e["data"]["case_id"] for e in events] == raised
    assert [e["seq"] for e in events] == [head + 1, head + 2, head + 3]
    assert last_seq == head + 3

    async with httpx.AsyncClient(base_url=servers[1].http, timeout=30) as http_b:
        assert await parked_long_polls(http_b) == 0
        waiting = asyncio.create_task(
            http_b.get(EVENTS, params={"channel": CASES, "after": head + 3, "timeout": 20},
                       headers=auth)
        )
        await wait_for_parked_long_poll(http_b, waiting)
        started = time.monotonic()
        later = await raise_case(http_a)
        answer = (await waiting).json()
    assert time.monotonic() - started < 10  # woken by the event, long before its 20-s timeout
    assert [e["data"]["case_id"] for e in answer["events"]] == [later]
    assert answer["last_seq"] == head + 4


async def test_long_poll_problems_and_case_token_access(http_a, rt_app, rt_operator) -> None:
    no_auth = await http_a.get(EVENTS, params={"channel": CASES, "timeout": 0})
    assert no_auth.status_code == 401
    assert no_auth.headers["content-type"].startswith("application/problem+json")
    unknown = await http_a.get(
        EVENTS, params={"channel": "nope", "timeout": 0}, headers=rt_operator.headers
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_channel"
    doctor = await sign_in(rt_app, http_a, "doctor")
    forbidden = await http_a.get(
        EVENTS, params={"channel": CASES, "timeout": 0}, headers=doctor.headers
    )
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "channel_forbidden"

    case_id, token = await raise_with_token(http_a)
    await raise_case(http_a)
    await triage(http_a, case_id, rt_operator.headers)
    mine, _ = await poll_until(
        http_a, 2, after=0, headers={"X-Case-Token": token}, case_id=case_id
    )
    assert [e["event_type"] for e in mine] == ["case.raise", "case.triage"]
    assert {e["data"]["case_id"] for e in mine} == {case_id}
    wrong = await http_a.get(
        EVENTS,
        params={"channel": CASES, "timeout": 0, "case_id": case_id},
        headers={"X-Case-Token": token + "x"},
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_case_token"


async def read_sse(lines, want_events: int, want_comments: int = 0):
    """Parse frames from an SSE response's lines until enough events (and heartbeats) arrived."""
    events, comments, frame = [], [], {}
    async for line in lines:
        if line.startswith(":"):
            if "heartbeat" in line:
                comments.append(line)
        elif line.startswith("id:"):
            frame["id"] = int(line[3:].strip())
        elif line.startswith("data:"):
            frame["data"] = json.loads(line[5:].strip())
        elif line == "" and frame:
            events.append(frame)
            frame = {}
        if len(events) >= want_events and len(comments) >= want_comments:
            return events, comments
    raise AssertionError("stream ended early")


async def test_sse_streams_with_seq_ids_resumes_from_last_event_id_and_beats(
    servers, http_a, rt_operator
) -> None:
    params = {"channel": CASES, "timeout": 0}
    page = (await http_a.get(EVENTS, params=params, headers=rt_operator.headers)).json()
    head = page["last_seq"]
    raised = [await raise_case(http_a) for _ in range(3)]
    headers = {**rt_operator.headers, "Last-Event-ID": str(head + 1)}
    async with (
        httpx.AsyncClient(base_url=servers[1].http, timeout=30) as http_b,
        http_b.stream("GET", SSE, params={"channel": CASES}, headers=headers) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = resp.aiter_lines()
        # Wait for the two missed events: the stream has then replayed and is parked, live.
        replayed, _ = await asyncio.wait_for(read_sse(lines, 2), 15)
        live = await raise_case(http_a)
        events, comments = await asyncio.wait_for(read_sse(lines, 1, want_comments=1), 30)
        events = replayed + events
    assert [f["id"] for f in events] == [head + 2, head + 3, head + 4]
    assert [f["data"]["data"]["case_id"] for f in events] == [*raised[1:], live]
    assert all(f["data"]["type"] == "event" and f["data"]["seq"] == f["id"] for f in events)
    assert comments and comments[0].startswith(": heartbeat seq=")


async def test_sse_refuses_a_bad_last_event_id_as_problem_json(http_a, rt_operator) -> None:
    headers = {**rt_operator.headers, "Last-Event-ID": "abc"}
    response = await http_a.get(SSE, params={"channel": CASES}, headers=headers)
    assert response.status_code == 422 and response.json()["field"] == "Last-Event-ID"
