"""SOS intake: validation, idempotency under concurrency, the reporter's case token."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, text

from dispatch.models import CaseEvent, EmergencyCase
from tests.conftest import random_phone, sos_body

CASES = "/api/v1/emergency/cases"


def problem_fields(response) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["field"] for e in response.json().get("errors", [])}


async def test_sos_creates_a_raised_case_with_an_audited_event(client, operator):
    r = await client.post(CASES, json=sos_body(notes="collapsed at bus stop"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "raised" and body["version"] == 1
    assert body["case_token"] and body["idempotent_replay"] is False
    assert r.headers["location"].endswith(body["id"])
    case = (await client.get(f"{CASES}/{body['id']}", headers=operator.headers)).json()
    assert [(e["action"], e["from_status"], e["to_status"]) for e in case["events"]] == [
        ("raise", None, "raised")
    ]


async def test_the_answered_case_is_the_stored_case_and_its_event_is_in_the_outbox(
    client, operator, app
):
    """SOS intake writes the case, its event and its outbox row in one statement and answers
    from the case it built: the answer must be what a later read of the database shows."""
    r = await client.post(CASES, json=sos_body(notes="on the third floor", accuracy_m=12.5),
                          headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    answered = r.json()
    stored = (await client.get(f"{CASES}/{answered['id']}", headers=operator.headers)).json()
    for only_in_answer in ("case_token", "idempotent_replay", "warnings"):
        answered.pop(only_in_answer)
    for only_in_read in set(stored) - set(answered):
        stored.pop(only_in_read)
    for derived_at_read in ("events", "timeline", "recommended_units", "recommended_plan"):
        stored.pop(derived_at_read, None), answered.pop(derived_at_read, None)
    assert answered == stored
    assert stored["notes"] == "on the third floor"
    async with app.state.session_factory() as session:
        payload = (await session.execute(text(
            "SELECT payload FROM outbox WHERE aggregate_id = :id AND event_type = 'case.raise'"
        ), {"id": answered["id"]})).scalar_one()
    assert payload["case_id"] == answered["id"] and payload["status"] == "raised"
    assert payload["version"] == 1 and payload["from_status"] is None


async def test_sos_without_key_is_accepted_with_a_warning(client):
    r = await client.post(CASES, json=sos_body())
    assert r.status_code == 201
    assert any("Idempotency-Key" in w for w in r.json()["warnings"])


async def test_twenty_concurrent_identical_submissions_make_one_case(client, app):
    body = sos_body()
    key = f"retry-{uuid.uuid4()}"
    responses = await asyncio.gather(
        *[client.post(CASES, json=body, headers={"Idempotency-Key": key}) for _ in range(20)]
    )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    assert sum(r.json()["idempotent_replay"] for r in responses) == 19
    tokens = {r.json()["case_token"] for r in responses}
    assert len(tokens) == 1
    async with app.state.session_factory() as session:
        count = await session.scalar(
            select(func.count()).select_from(EmergencyCase).where(
                EmergencyCase.reporter_phone == body["reporter_phone"]
            )
        )
        events = await session.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.case_id == uuid.UUID(ids.pop()))
        )
    assert count == 1 and events == 1


async def test_same_key_different_body_is_422(client):
    body = sos_body()
    headers = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    assert (await client.post(CASES, json=body, headers=headers)).status_code == 201
    r = await client.post(CASES, json={**body, "symptom_category": "burns"}, headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == "idempotency_key_reused"
    assert problem_fields(r) == {"Idempotency-Key"}


async def test_same_key_from_another_caller_is_a_different_case(client):
    key = {"Idempotency-Key": f"shared-{uuid.uuid4()}"}
    a = await client.post(CASES, json=sos_body(), headers=key)
    b = await client.post(CASES, json=sos_body(), headers=key)
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"lat": 91}, "lat"),
        ({"lat": -90.5}, "lat"),
        ({"lng": 180.01}, "lng"),
        ({"lng": "east"}, "lng"),
        ({"lat": None}, "lat"),
        ({"symptom_category": "headache"}, "symptom_category"),
        ({"reporter_phone": "0401234567"}, "reporter_phone"),
        ({"reporter_phone": "+1555"}, "reporter_phone"),
        ({"reporter_phone": "+35840abc"}, "reporter_phone"),
        ({"patient_id": "not-a-uuid"}, "patient_id"),
        ({"notes": "x" * 2001}, "notes"),
        ({"severity": "critical"}, "severity"),
    ],
)
async def test_invalid_fields_are_422_naming_the_field(client, override, field):
    r = await client.post(CASES, json=sos_body(**override))
    assert r.status_code == 422, r.text
    assert field in problem_fields(r)
    assert field in r.json()["detail"]


async def test_missing_fields_are_named(client):
    r = await client.post(CASES, json={"lat": 60.17})
    assert r.status_code == 422
    assert problem_fields(r) == {"lng", "symptom_category", "reporter_phone"}


async def test_unknown_patient_is_422(client):
    r = await client.post(CASES, json=sos_body(patient_id=str(uuid.uuid4())))
    assert r.status_code == 422
    assert problem_fields(r) == {"patient_id"}


async def test_phone_is_normalised_to_e164(client):
    r = await client.post(CASES, json=sos_body(reporter_phone="+358 40 123 4567"))
    assert r.status_code == 201
    assert r.json()["reporter_phone"] == "+358401234567"


async def test_overlong_idempotency_key_is_422(client):
    r = await client.post(CASES, json=sos_body(), headers={"Idempotency-Key": "k" * 256})
    assert r.status_code == 422
    assert problem_fields(r) == {"Idempotency-Key"}


async def test_body_over_64_kib_is_413(client):
    r = await client.post(CASES, json=sos_body(notes="x" * 70_000))
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


async def test_chunked_body_over_64_kib_is_413(client):
    async def chunks():
        yield b'{"notes": "'
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}'

    r = await client.post(CASES, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


async def test_malformed_json_is_400(client):
    r = await client.post(
        CASES, content=b'{"lat": 60.1,', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["code"] == "malformed_json"


async def test_nan_coordinates_are_rejected(client):
    raw = (
        b'{"lat": NaN, "lng": 24.9, "symptom_category": "other", '
        b'"reporter_phone": "+358401234567"}'
    )
    r = await client.post(CASES, content=raw, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422)


async def test_case_token_reads_only_its_own_case(client):
    mine = (await client.post(CASES, json=sos_body())).json()
    other = (await client.post(CASES, json=sos_body())).json()
    r = await client.get(f"{CASES}/{mine['id']}", headers={"X-Case-Token": mine["case_token"]})
    assert r.status_code == 200 and r.json()["id"] == mine["id"]
    r = await client.get(f"{CASES}/{other['id']}", headers={"X-Case-Token": mine["case_token"]})
    assert r.status_code == 403
    assert r.json()["code"] == "invalid_case_token"
    r = await client.get(CASES, headers={"X-Case-Token": mine["case_token"]})
    assert r.status_code == 401
    r = await client.post(
        f"{CASES}/{mine['id']}/triage",
        json={"severity": "low"},
        headers={"X-Case-Token": mine["case_token"]},
    )
    assert r.status_code == 401


async def test_reading_without_any_credential_is_401(client):
    case = (await client.post(CASES, json=sos_body())).json()
    r = await client.get(f"{CASES}/{case['id']}")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_signed_in_patient_key_is_scoped_to_the_user(client, patient_user):
    key = {"Idempotency-Key": f"p-{uuid.uuid4()}", **patient_user.headers}
    body = sos_body(reporter_phone=random_phone())
    a = await client.post(CASES, json=body, headers=key)
    b = await client.post(CASES, json=body, headers=key)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    assert b.headers["idempotent-replayed"] == "true"


async def test_nul_characters_are_a_422_never_a_500(client, operator):
    """PostgreSQL refuses NUL in text: that is the caller's input, not a server failure."""
    r = await client.get("/api/v1/hospitals", params={"region": "\x00"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_value", r.text
    r = await client.get("/api/v1/hospitals", params={"capability": "general_ed\x00"})
    assert r.status_code in (400, 422), r.text
    r = await client.get("/api/v1/hospitals", params={"near": "60.17,24.94", "capability": "\x00"})
    assert r.status_code in (400, 422), r.text
    r = await client.post("/api/v1/emergency/cases", json=sos_body(notes="help\x00me"))
    assert r.status_code in (201, 422), r.text
