"""BOLA/IDOR per object type, and mass assignment: ids and fields a caller may not choose."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from data.events import Channel
from dispatch.models import EmergencyCase
from identity.models import Patient
from tests.conftest import random_phone, sign_in, sos_body

CASES = "/api/v1/emergency/cases"


def leaks(body: str, case: dict) -> bool:
    """Whether a refusal body carries anything of the case."""
    return any(str(case.get(k)) in body for k in ("reporter_phone", "notes") if case.get(k))


async def test_a_case_is_invisible_outside_its_rules(client, world):
    bound = world.bound_case
    url = f"{CASES}/{bound['id']}"
    for who in (world.other_patient, world.patient, world.admin_h2, world.doctor):
        r = await client.get(url, headers=who.headers)
        assert r.status_code == 404 and not leaks(r.text, bound), who.email
    assert (await client.get(url, headers=world.admin_h1.headers)).status_code == 200
    own = world.patient_case
    assert (
        await client.get(f"{CASES}/{own['id']}", headers=world.patient.headers)
    ).status_code == 200
    r = await client.get(f"{CASES}/{own['id']}", headers=world.other_patient.headers)
    assert r.status_code == 404 and not leaks(r.text, own)


async def test_a_case_token_opens_only_its_own_case(client, world):
    mine = (await client.post(CASES, json=sos_body())).json()
    r = await client.get(
        f"{CASES}/{world.bound_case['id']}", headers={"X-Case-Token": mine["case_token"]}
    )
    assert r.status_code == 403 and not leaks(r.text, world.bound_case)
    events = await client.get(
        "/api/v1/realtime/events",
        params={"channel": Channel.CASE, "case_id": world.bound_case["id"], "timeout": 0},
        headers={"X-Case-Token": mine["case_token"]},
    )
    assert events.status_code in (401, 403) and world.bound_case["id"] not in events.text


async def test_hospital_admins_list_only_cases_bound_to_their_hospital(client, world):
    def ids(r):
        assert r.status_code == 200
        return {c["id"] for c in r.json()["items"]}

    mine = ids(await client.get(CASES, params={"limit": 200}, headers=world.admin_h1.headers))
    theirs = ids(await client.get(CASES, params={"limit": 200}, headers=world.admin_h2.headers))
    assert world.bound_case["id"] in mine and world.bound_case["id"] not in theirs
    assert world.patient_case["id"] not in mine | theirs


async def test_hospital_objects_belong_to_their_admin(client, world):
    h1 = world.h1
    r = await client.get(f"/api/v1/hospitals/{h1}/incoming", headers=world.admin_h2.headers)
    assert r.status_code == 403 and world.bound_case["id"] not in r.text
    r = await client.put(
        f"/api/v1/hospitals/{h1}/capacity",
        json={"ed_status": "closed"},
        headers=world.admin_h2.headers,
    )
    assert r.status_code == 403
    r = await client.post(
        f"{CASES}/{world.bound_case['id']}/acknowledge", headers=world.admin_h2.headers
    )
    assert r.status_code in (403, 404) and not leaks(r.text, world.bound_case)
    incoming = await client.get(f"/api/v1/hospitals/{h1}/incoming", headers=world.admin_h1.headers)
    assert incoming.status_code == 200


async def test_a_unit_position_needs_that_units_crew_token(client, world):
    r = await client.post(
        f"/api/v1/units/{uuid.uuid4()}/position",
        json={"lat": 60.17, "lng": 24.94, "recorded_at": "2026-11-25T12:00:00Z"},
        headers={"X-Crew-Token": "forged.token.value"},
    )
    assert r.status_code in (401, 403)


async def test_audit_of_a_patient_is_not_for_that_patient(client, world):
    r = await client.get(f"/api/v1/audit?patient_id={uuid.uuid4()}", headers=world.patient.headers)
    assert r.status_code == 403


@pytest.mark.parametrize(
    "field, value",
    [
        ("status", "closed"),
        ("role", "super_admin"),
        ("created_by", str(uuid.uuid4())),
        ("suspected_abuse", False),
        ("id", str(uuid.uuid4())),
        ("version", 99),
        ("destination_hospital_id", str(uuid.uuid4())),
        ("severity", "critical"),
    ],
)
async def test_sos_fields_a_caller_may_not_set_are_refused(app, client, field, value):
    phone = random_phone()
    r = await client.post(CASES, json={**sos_body(reporter_phone=phone), field: value})
    assert r.status_code == 422
    async with app.state.session_factory() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(EmergencyCase)
            .where(EmergencyCase.reporter_phone == phone)
        )
    assert count == 0


async def test_a_case_cannot_be_linked_to_someone_elses_patient_record(app, client, world):
    async with app.state.session_factory() as session:
        record = Patient(user_id=world.other_patient.user_id, full_name="Someone Else")
        session.add(record)
        await session.commit()
    for headers in ({}, world.patient.headers):
        r = await client.post(CASES, json=sos_body(patient_id=str(record.id)), headers=headers)
        assert r.status_code == 422 and r.json()["code"] == "unknown_patient"
    ok = await client.post(
        CASES, json=sos_body(patient_id=str(record.id)), headers=world.other_patient.headers
    )
    assert ok.status_code == 201 and ok.json()["patient_id"] == str(record.id)
    staff = await client.post(
        CASES, json=sos_body(patient_id=str(record.id)), headers=world.operator.headers
    )
    assert staff.status_code == 201


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/auth/login", {"email": "a@b.c", "password": "x" * 12, "roles": ["super_admin"]}),
        (
            "/api/v1/auth/mfa/enrol",
            {"email": "a@b.c", "password": "x" * 12, "totp_enabled_at": "now"},
        ),
        (
            "/api/v1/auth/mfa/activate",
            {
                "email": "a@b.c",
                "password": "x" * 12,
                "totp": "123456",
                "hospital_id": str(uuid.uuid4()),
            },
        ),
    ],
)
async def test_auth_bodies_refuse_extra_fields(client, path, body):
    assert (await client.post(path, json=body)).status_code == 422


async def test_staff_bodies_refuse_fields_they_do_not_own(client, world):
    case = (await client.post(CASES, json=sos_body())).json()
    r = await client.post(
        f"{CASES}/{case['id']}/triage",
        json={"severity": "high", "status": "closed", "created_by": "x"},
        headers=world.operator.headers,
    )
    assert r.status_code == 422
    r = await client.put(
        f"/api/v1/hospitals/{world.h1}/capacity",
        json={"ed_status": "open", "hospital_id": str(world.h2)},
        headers=world.admin_h1.headers,
    )
    assert r.status_code == 422
    unit = await client.post(
        "/api/v1/units",
        headers=world.operator.headers,
        json={
            "call_sign": f"MA-{uuid.uuid4().hex[:6]}",
            "type": "ALS",
            "station_lat": 60.169,
            "station_lng": 24.94,
            "crew_phones": [],
            "status": "busy",
        },
    )
    assert unit.status_code == 422
    still = (await client.get(f"{CASES}/{case['id']}", headers=world.operator.headers)).json()
    assert still["status"] == "raised" and still["severity"] is None


async def test_who_may_read_a_case_is_who_receives_its_live_events(app, client, world):
    """One rule (identity.authz.case_read_grant) for GET and the live fan-out: the receiving
    hospital's doctor reads the case and gets its events; another hospital's doctor neither."""
    bound = world.bound_case
    doctor_h1 = await sign_in(app, client, "doctor", hospital_id=world.h1)
    for who, may in ((doctor_h1, True), (world.doctor, False)):
        read = await client.get(f"{CASES}/{bound['id']}", headers=who.headers)
        assert read.status_code == (200 if may else 404)
        live = await client.get(
            "/api/v1/realtime/events",
            params={"channel": Channel.CASE, "after": 0, "timeout": 0, "case_id": bound["id"]},
            headers=who.headers,
        )
        assert live.status_code == 200, live.text
        seen = {e["data"]["case_id"] for e in live.json()["events"]}
        assert seen == ({bound["id"]} if may else set()), who.email
