"""WebSocket delivery across two real uvicorn workers, a private Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from data.outbox import record_event
from facilities.models import Hospital
from realtime.streams import counter_key, stream_key
from tests.conftest import sign_in
from tests.support.realtime import token_of
from tests.support.realtime_clients import CASES, Client, raise_case, raise_with_token, triage
from tests.support.servers import Server

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def publish_position(redis: aioredis.Redis, prefix: str, data: dict) -> int:
    """What dispatch.position_ingest does for a live fix: next seq, then XADD."""
    channel = "unit.position.updated"
    seq = await redis.incr(counter_key(prefix, channel))
    await redis.xadd(stream_key(prefix, channel), {
        "seq": seq, "type": channel, "data": json.dumps(data), "at": "2026-01-01T00:00:00+00:00",
    })
    return seq


async def refusal(url: str, first: dict | None = None) -> tuple[str, int]:
    """The error code and close code of a connection the server refuses."""
    async with connect(url) as ws:
        if first is not None:
            await ws.send(json.dumps(first))
        error = json.loads(await asyncio.wait_for(ws.recv(), 10))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert error["type"] == "error"
    return error["code"], closed.value.rcvd.code


def seqs(events: list[dict]) -> list[int]:
    return [e["seq"] for e in events]


def assert_contiguous(events: list[dict], after: int) -> None:
    assert seqs(events) == list(range(after + 1, after + 1 + len(events)))


async def test_changes_through_worker_a_reach_a_client_on_worker_b_in_order(
    servers, http_a, rt_operator
) -> None:
    a, b = servers
    client = await Client.open(b.ws, token=token_of(rt_operator))
    ack = await client.subscribe()
    expected = []
    for _ in range(8):
        case_id = await raise_case(http_a)
        expected.append((case_id, "case.raise"))
        await triage(http_a, case_id, rt_operator.headers)
        expected.append((case_id, "case.triage"))
    events = await client.events(len(expected))
    assert [(e["data"]["case_id"], e["event_type"]) for e in events] == expected
    assert_contiguous(events, ack["seq"])
    assert all(e["channel"] == CASES and e["at"] for e in events)
    await client.close()


async def test_resume_after_a_killed_socket_misses_nothing_and_repeats_nothing(
    servers, http_a, rt_operator, rt_redis
) -> None:
    a, b = servers
    client = await Client.open(b.ws, token=token_of(rt_operator))
    await client.subscribe()
    for _ in range(3):
        await raise_case(http_a)
    first = await client.events(3)
    last_seq = first[-1]["seq"]
    client.ws.transport.abort()  # no close handshake: the network dropped

    missed = [await raise_case(http_a) for _ in range(5)]
    again = await Client.open(a.ws, token=token_of(rt_operator))
    await again.subscribe(last_seq=last_seq)
    replayed = await again.events(5)
    assert [e["data"]["case_id"] for e in replayed] == missed
    assert_contiguous(replayed, last_seq)
    live = [await raise_case(http_a) for _ in range(2)]
    after = await again.events(2)
    assert [e["data"]["case_id"] for e in after] == live
    assert_contiguous(after, last_seq + 5)
    assert await again.quiet(0.3) == []
    await again.close()

    # Older than Redis retains: trim the stream so the replay must come from the outbox,
    # while new changes keep arriving live during that replay.
    redis = aioredis.from_url(rt_redis.url)
    # The servers' own stream.
    key = stream_key(os.environ["LIFELINE_REALTIME_STREAM_PREFIX"], CASES)
    assert await redis.xlen(key) >= 10
    await redis.xtrim(key, maxlen=0)
    assert await redis.xlen(key) == 0
    third = await Client.open(b.ws, token=token_of(rt_operator))
    await third.subscribe(last_seq=last_seq)
    concurrent = [await raise_case(http_a) for _ in range(3)]
    events = await third.events(10)
    assert [e["data"]["case_id"] for e in events] == missed + live + concurrent
    assert_contiguous(events, last_seq)
    assert await third.quiet(0.3) == []
    await third.close()
    # Redis now holds only the three concurrent events: the seven before them came from the
    # outbox (streams.replay_from_outbox), not from the stream.
    retained = await redis.xrange(key, "-", "+")
    assert [int(fields[b"seq"]) for _, fields in retained][:1] == [events[-3]["seq"]]
    await redis.aclose()


async def test_hospital_admin_never_receives_another_hospitals_case(
    servers, http_a, rt_app, rt_operator
) -> None:
    a, b = servers
    hospitals = []
    async with rt_app.state.session_factory() as session:
        for name in ("North", "South", "East"):
            hospital = Hospital(
                id=uuid.uuid4(), name=f"{name} {uuid.uuid4().hex[:6]}",
                location="SRID=4326;POINT(24.93 60.17)",
            )
            session.add(hospital)
            hospitals.append(str(hospital.id))
        await session.commit()
    mine = hospitals[0]
    admin = await sign_in(rt_app, http_a, "hospital_admin", hospital_id=uuid.UUID(mine))
    admin_client = await Client.open(b.ws, token=token_of(admin))
    ops_client = await Client.open(a.ws, token=token_of(rt_operator))
    await admin_client.subscribe()
    ack = await ops_client.subscribe()

    rng = random.Random(5)
    destinations = [rng.choice([*hospitals, None, str(uuid.uuid4())]) for _ in range(200)]
    for start in range(0, 200, 20):  # ten transactions of twenty events
        async with rt_app.state.session_factory() as session:
            for destination in destinations[start : start + 20]:
                case_id = uuid.uuid4()
                record_event(
                    session,
                    channel=CASES,
                    event_type="case.dispatch",
                    aggregate_type="emergency_case",
                    aggregate_id=case_id,
                    payload={"case_id": str(case_id), "destination_hospital_id": destination},
                )
            await session.commit()
    everything = await ops_client.events(200)
    assert_contiguous(everything, ack["seq"])
    wanted = [e["seq"] for e in everything if e["data"]["destination_hospital_id"] == mine]
    assert 0 < len(wanted) < 200
    received = await admin_client.events(len(wanted))
    assert seqs(received) == wanted
    assert await admin_client.quiet(0.5) == []
    assert all(e["data"]["destination_hospital_id"] == mine for e in received)
    # The admin's heartbeat position covers the events it was not shown, so a resume is cheap.
    heartbeat = await admin_client.next_of(
        "heartbeat", timeout=admin_client.welcome["heartbeat_s"] * 3
    )
    assert heartbeat["seq"] == everything[-1]["seq"]
    await admin_client.close()
    await ops_client.close()


async def test_case_token_client_follows_only_its_own_case(servers, http_a, rt_operator) -> None:
    a, b = servers
    case_id, case_token = await raise_with_token(http_a)
    reporter = await Client.open(
        b.ws, first={"type": "auth", "case_id": case_id, "case_token": case_token}
    )
    await reporter.ws.send(
        json.dumps({"type": "subscribe", "channel": "hospital.capacity.updated"})
    )
    refused = await reporter.next_of("error")
    assert refused["code"] == "channel_forbidden"
    await reporter.subscribe(last_seq=0)
    raised = await reporter.events(1)
    assert raised[0]["data"]["case_id"] == case_id and raised[0]["event_type"] == "case.raise"
    await raise_case(http_a)
    await triage(http_a, case_id, rt_operator.headers)
    triaged = await reporter.events(1)
    assert triaged[0]["data"]["case_id"] == case_id and triaged[0]["event_type"] == "case.triage"
    assert await reporter.quiet(0.3) == []
    await reporter.close()

    another_case = {"type": "auth", "case_id": str(uuid.uuid4()), "case_token": case_token}
    assert await refusal(b.ws, another_case) == ("invalid_case_token", 4001)


async def test_bad_token_and_missing_auth_are_refused_with_4001(servers) -> None:
    a, _ = servers
    assert await refusal(a.ws + "?token=not-a-token") == ("invalid_token", 4001)
    subscribe_first = {"type": "subscribe", "channel": CASES}
    assert await refusal(a.ws, subscribe_first) == ("auth_required", 4001)


async def test_token_in_the_first_message_and_malformed_messages(servers, rt_operator) -> None:
    a, _ = servers
    client = await Client.open(a.ws, first={"type": "auth", "token": token_of(rt_operator)})
    for raw, code in (
        ("not json", "invalid_message"),
        (json.dumps({"type": "subscribe", "channel": "no.such.channel"}), "unknown_channel"),
        (json.dumps({"type": "dance"}), "invalid_message"),
        (json.dumps({"type": "subscribe", "channel": CASES, "last_seq": -1}), "invalid_message"),
        (json.dumps({"type": "unsubscribe", "channel": CASES}), "not_subscribed"),
    ):
        await client.ws.send(raw)
        error = await client.next_of("error")
        assert error["code"] == code and error["detail"]
    await client.ws.send(json.dumps({"type": "ping"}))
    assert (await client.next_of("pong"))["type"] == "pong"
    await client.close()


async def test_origin_outside_the_allow_list_is_rejected(servers, rt_operator) -> None:
    a, _ = servers
    with pytest.raises(InvalidStatus) as rejected:
        await Client.open(a.ws, token=token_of(rt_operator), origin="https://evil.example")
    assert rejected.value.response.status_code == 403
    # Not configured, as with `make run`: a page's socket to the server it came from is
    # allowed (same origin), by whichever name the browser reached the server.
    for name in ("127.0.0.1", "localhost"):
        own, ws = a.http.replace("127.0.0.1", name), a.ws.replace("127.0.0.1", name)
        allowed = await Client.open(ws, token=token_of(rt_operator), origin=own)
        await allowed.close()
    with pytest.raises(InvalidStatus) as other_port:
        await Client.open(a.ws, token=token_of(rt_operator), origin="http://127.0.0.1:8000")
    assert other_port.value.response.status_code == 403


@pytest.fixture
def quick_beat_server(server_env):
    """A third worker whose heartbeat is 0.5 s instead of 10 s.

    The setting is what the test is about: with the default a test would wait 20 s for two beats.
    """
    server = Server({**server_env, "LIFELINE_REALTIME_HEARTBEAT_SECONDS": "0.5"})
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


async def test_heartbeat_arrives_within_the_interval(quick_beat_server, rt_operator) -> None:
    client = await Client.open(quick_beat_server.ws, token=token_of(rt_operator))
    interval = client.welcome["heartbeat_s"]
    assert interval == 0.5
    ack = await client.subscribe("doctor.availability.updated")
    started = time.monotonic()
    beat = await client.next_of("heartbeat", timeout=interval * 3)
    assert time.monotonic() - started <= interval * 1.5
    assert beat == {
        "type": "heartbeat", "channel": "doctor.availability.updated", "seq": ack["seq"]
    }
    second = time.monotonic()
    await client.next_of("heartbeat", timeout=interval * 3)
    assert time.monotonic() - second <= interval * 1.5
    await client.close()


async def test_the_default_heartbeat_is_announced(servers, rt_operator) -> None:
    client = await Client.open(servers[0].ws, token=token_of(rt_operator))
    assert client.welcome["heartbeat_s"] == 10.0  # the default of realtime/settings.py
    await client.close()


async def test_unit_positions_bypass_the_outbox_and_resume_from_redis(
    servers, rt_operator, rt_redis
) -> None:
    a, b = servers
    client = await Client.open(b.ws, token=token_of(rt_operator))
    await client.subscribe("unit.position.updated")
    redis = aioredis.from_url(rt_redis.url)
    published = [
        await publish_position(
            redis, os.environ["LIFELINE_REALTIME_STREAM_PREFIX"], {"unit_id": f"u{n}", "n": n}
        )
        for n in range(5)
    ]
    events = await client.events(5)
    assert seqs(events) == published == sorted(published)
    assert [e["data"]["n"] for e in events] == list(range(5))
    again = await Client.open(a.ws, token=token_of(rt_operator))
    await again.subscribe("unit.position.updated", last_seq=published[1])
    assert seqs(await again.events(3)) == published[2:]
    await redis.aclose()
    await client.close()
    await again.close()


async def test_redis_outage_clients_get_stale_then_every_event_once_in_order(
    servers, http_a, rt_operator, rt_redis
) -> None:
    a, b = servers
    clients = [await Client.open(s.ws, token=token_of(rt_operator)) for s in servers]
    acks = [await c.subscribe() for c in clients]
    rt_redis.stop()
    try:
        for client in clients:
            await client.next_of("stale", timeout=10)
        raised = [await raise_case(http_a) for _ in range(100)]
    finally:
        rt_redis.start()
    for client, ack in zip(clients, acks, strict=True):
        events = await client.events(100, timeout=30)
        assert [e["data"]["case_id"] for e in events] == raised
        assert_contiguous(events, ack["seq"])
        assert await client.quiet(0.3) == []
        await client.close()


async def test_killing_the_active_relay_hands_over_to_the_other_worker(
    servers, rt_app, rt_operator
) -> None:
    """Runs last in this module: it kills one worker (and starts it again)."""
    import httpx

    async with rt_app.state.engine.connect() as connection:
        holder = (
            await connection.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                    "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND a.datname = current_database() "
                    "AND a.application_name LIKE 'lifeline-relay:%'"
                )
            )
        ).all()
    assert len(holder) == 1, holder
    pid = int(holder[0][0].split(":")[1])
    active = next(s for s in servers if s.process.pid == pid)
    survivor = next(s for s in servers if s is not active)
    client = await Client.open(survivor.ws, token=token_of(rt_operator))
    await client.subscribe()
    import signal

    active.stop(signal.SIGKILL)
    try:
        async with httpx.AsyncClient(base_url=survivor.http, timeout=30) as http:
            started = time.monotonic()
            case_id = await raise_case(http)
            (event,) = await client.events(1, timeout=15)
            assert event["data"]["case_id"] == case_id
            assert time.monotonic() - started < 5
        await client.close()
    finally:
        active.start()
        await asyncio.to_thread(active.wait_ready)
