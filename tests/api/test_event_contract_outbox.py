"""Every event the app writes validates against its kind's typed payload (issue 22.3).

Written through the real API into the real outbox (and, for positions, the real Redis stream),
then read back: each row's event type is declared, goes on its kind's channel, has exactly the
kind's keys and validates against its type. Only this test's rows are read: other tests write
hand-made rows on purpose (a replay, a gap). Every writer in the code takes its channel, type
and payload type from one kind: tests/unit/test_event_contract.py checks that statically.
"""

from __future__ import annotations

import json
import typing
import uuid
from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlalchemy import func, select

from data.events import UNIT_POSITION, Channel, EventKind, kind_of
from data.outbox import OutboxEvent
from dispatch.position_ingest import Fix, PositionIngest
from facilities.models import Hospital
from realtime.settings import get_realtime_settings
from realtime.streams import stream_key
from tests.conftest import add_unit, sign_in, sos_body

CASES = "/api/v1/emergency/cases"


def _check(kind: EventKind | None, channel: str, event_type: str, payload: dict) -> None:
    assert kind is not None, f"{event_type} is not declared in data.events"
    assert kind.channel == channel, (event_type, channel)
    assert set(payload) == set(typing.get_type_hints(kind.payload)), event_type
    TypeAdapter(kind.payload).validate_python(payload)


async def test_written_events_validate_against_their_kinds(app, client):
    operator = await sign_in(app, client, "emergency_operator")  # fresh: tokens last 15 min
    h = operator.headers
    async with app.state.session_factory() as session:
        before = await session.scalar(select(func.max(OutboxEvent.id))) or 0
        hospital = await session.scalar(select(Hospital).order_by(Hospital.name).limit(1))
    assert hospital is not None
    # A case through its whole life (case.*, unit.status), a unit taken out of service ...
    case = await client.post(CASES, json=sos_body())
    assert case.status_code == 201, case.text
    url = f"{CASES}/{case.json()['id']}"
    assert (await client.post(f"{url}/triage", json={"severity": "critical"},
                              headers=h)).status_code == 200
    await add_unit(client, h)
    assert (await client.post(f"{url}/dispatch", headers=h)).status_code == 200
    assert (await client.post(f"{url}/arrive", headers=h)).status_code == 200
    assert (await client.post(f"{url}/close", json={"reason": "handed over"},
                              headers=h)).status_code == 200
    unit = await add_unit(client, h)
    moved = await client.post(f"/api/v1/units/{unit['id']}/status",
                              json={"status": "out_of_service"}, headers=h)
    assert moved.status_code == 200, moved.text
    # ... and a hospital's capacity stated again as it is (hospital.capacity).
    admin = await sign_in(app, client, "hospital_admin", hospital_id=hospital.id)
    stated = await client.put(
        f"/api/v1/hospitals/{hospital.id}/capacity", headers=admin.headers,
        json={"ed_status": hospital.ed_status, "beds_available": hospital.beds_available},
    )
    assert stated.status_code == 200, stated.text
    async with app.state.session_factory() as session:
        rows = list(await session.scalars(
            select(OutboxEvent).where(OutboxEvent.id > before).order_by(OutboxEvent.id)))
    seen = {r.event_type for r in rows}
    assert {"case.raise", "case.triage", "case.dispatch", "case.arrive", "case.close",
            "unit.status", "hospital.capacity"} <= seen, seen
    for row in rows:
        _check(kind_of(row.event_type), row.channel, row.event_type, row.payload)


async def test_position_events_validate_against_their_kind(app, client):
    operator = await sign_in(app, client, "emergency_operator")
    unit = uuid.UUID((await add_unit(client, operator.headers))["id"])
    ingest: PositionIngest = app.state.position_ingest
    result = await ingest.record(
        Fix(unit_id=unit, lat=60.17, lng=24.94, recorded_at=datetime.now(UTC), heading=90.0)
    )
    assert result.live
    key = stream_key(get_realtime_settings().stream_prefix, Channel.UNIT_POSITION)
    entries = await app.state.redis.xrevrange(key, count=200)
    mine = [f for _, f in entries if json.loads(f[b"data"])["unit_id"] == str(unit)]
    assert mine, "the fix was not published"
    fields = mine[0]
    event_type = fields[b"type"].decode()
    _check(kind_of(event_type), Channel.UNIT_POSITION, event_type, json.loads(fields[b"data"]))
    assert kind_of(event_type) is UNIT_POSITION
