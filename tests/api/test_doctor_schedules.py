"""A doctor keeps their own weekly schedule, and a hospital admin may remove a line (issue 25):
each as every role, with another object's id, an expired token, garbage and twice at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import jwt
from sqlalchemy import func, select

from data.base import utcnow
from identity.models import AuditEntry
from tests.api.test_sessions_and_mfa import claims_for
from tests.conftest import sign_in
from tests.support.care import free_slots, make_clinic, make_patient

MINE = "/api/v1/doctors/me/schedules"
ME = "/api/v1/doctors/me"


def admin_url(clinic, schedule_id) -> str:
    return (f"/api/v1/hospitals/{clinic.hospital_id}/doctors/{clinic.doctor_id}"
            f"/schedules/{schedule_id}")


async def clear_week(client, clinic) -> None:
    """Remove the fixture's all-day lines so a new line does not overlap."""
    for line in (await client.get(ME, headers=clinic.doctor.headers)).json()["schedules"]:
        r = await client.delete(admin_url(clinic, line["id"]), headers=clinic.admin.headers)
        assert r.status_code == 204, r.text


def line(clinic, **over) -> dict:
    return {"hospital_id": clinic.hospital_id, "weekday": 2, "start_time": "09:00",
            "end_time": "12:00", "slot_minutes": 20, **over}


async def test_doctor_adds_and_deletes_own_line(app, client):
    clinic = await make_clinic(app, client)
    async with app.state.session_factory() as session:
        start = await session.scalar(select(func.max(AuditEntry.seq))) or 0
    await clear_week(client, clinic)
    r = await client.post(MINE, json=line(clinic), headers=clinic.doctor.headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["doctor_id"] == clinic.doctor_id and made["start_time"] == "09:00:00"
    me = (await client.get(ME, headers=clinic.doctor.headers)).json()
    assert [s["id"] for s in me["schedules"]] == [made["id"]]
    r = await client.post(MINE, json=line(clinic, start_time="11:00", end_time="13:00"),
                          headers=clinic.doctor.headers)
    assert r.status_code == 409 and r.json()["code"] == "schedule_overlap"
    r = await client.delete(f"{MINE}/{made['id']}", headers=clinic.doctor.headers)
    assert r.status_code == 204, r.text
    assert (await client.get(ME, headers=clinic.doctor.headers)).json()["schedules"] == []
    # Who may be booked when: the doctor's own changes are in the audit trail.
    async with app.state.session_factory() as session:
        actions = set(await session.scalars(
            select(AuditEntry.action).where(AuditEntry.seq > start,
                                            AuditEntry.object_type == "doctor",
                                            AuditEntry.outcome == "allowed")))
    assert {"POST /api/v1/doctors/me/schedules",
            "DELETE /api/v1/doctors/me/schedules/{schedule_id}"} <= actions, actions


async def test_deleting_a_line_keeps_booked_appointments(app, client):
    clinic = await make_clinic(app, client)
    patient = await make_patient(app, client)
    slot = (await free_slots(client, clinic))[0]
    r = await client.post("/api/v1/appointments", headers=patient.headers,
                          json={"doctor_id": clinic.doctor_id, "hospital_id": clinic.hospital_id,
                                "start": slot["start"]})
    assert r.status_code == 201, r.text
    booked = r.json()["id"]
    await clear_week(client, clinic)
    assert await free_slots(client, clinic) == []
    r = await client.get(f"/api/v1/appointments/{booked}", headers=patient.headers)
    assert r.status_code == 200 and r.json()["status"] != "cancelled"


async def test_another_doctors_line_is_not_found(app, client):
    mine = await make_clinic(app, client)
    theirs = await make_clinic(app, client)
    their_line = (await client.get(ME, headers=theirs.doctor.headers)).json()["schedules"][0]
    r = await client.delete(f"{MINE}/{their_line['id']}", headers=mine.doctor.headers)
    assert r.status_code == 404
    r = await client.delete(f"{MINE}/{uuid.uuid4()}", headers=mine.doctor.headers)
    assert r.status_code == 404
    # An admin may not reach a line through another doctor's path, nor another hospital's.
    r = await client.delete(admin_url(mine, their_line["id"]), headers=mine.admin.headers)
    assert r.status_code == 404
    other = await make_clinic(app, client, hospital_index=1)
    r = await client.delete(admin_url(theirs, their_line["id"]), headers=other.admin.headers)
    assert r.status_code == 403


async def test_unaccepted_affiliation_is_refused(app, client):
    clinic = await make_clinic(app, client, accepted=False)
    r = await client.post(MINE, json=line(clinic, weekday=3, start_time="23:50",
                                          end_time="23:55"), headers=clinic.doctor.headers)
    assert r.status_code == 403 and r.json()["code"] == "affiliation_not_accepted"
    first = (await client.get(ME, headers=clinic.doctor.headers)).json()["schedules"][0]
    r = await client.delete(f"{MINE}/{first['id']}", headers=clinic.doctor.headers)
    assert r.status_code == 403


async def test_other_roles_expired_tokens_and_garbage(app, client, identity_settings):
    clinic = await make_clinic(app, client)
    first = (await client.get(ME, headers=clinic.doctor.headers)).json()["schedules"][0]
    for role in ("patient", "emergency_operator"):
        user = await sign_in(app, client, role)
        assert (await client.post(MINE, json=line(clinic), headers=user.headers)
                ).status_code == 403, role
        assert (await client.delete(f"{MINE}/{first['id']}", headers=user.headers)
                ).status_code == 403, role
        assert (await client.delete(admin_url(clinic, first["id"]), headers=user.headers)
                ).status_code == 403, role
    # The admin role may not use the doctor's own route, nor the doctor the admin's.
    assert (await client.post(MINE, json=line(clinic), headers=clinic.admin.headers)
            ).status_code == 403
    assert (await client.delete(admin_url(clinic, first["id"]), headers=clinic.doctor.headers)
            ).status_code == 403
    assert (await client.delete(f"{MINE}/{first['id']}")).status_code == 401
    expired = jwt.encode({**claims_for(clinic.doctor.user_id, identity_settings),
                          "exp": utcnow() - timedelta(seconds=5)}, identity_settings.secret_key)
    r = await client.delete(f"{MINE}/{first['id']}",
                            headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    h = clinic.doctor.headers
    for body in ({"weekday": 9}, line(clinic, weekday=7), line(clinic, end_time="08:00"),
                 line(clinic, slot_minutes="soon"), line(clinic, hospital_id="nowhere"),
                 {**line(clinic), "extra": 1}):
        r = await client.post(MINE, json=body, headers=h)
        assert r.status_code == 422, body
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.delete(f"{MINE}/not-a-uuid", headers=h)).status_code == 422
    assert (await client.delete(admin_url(clinic, "x"), headers=clinic.admin.headers)
            ).status_code == 422
    # Still there: nothing above removed it.
    ids = [s["id"] for s in (await client.get(ME, headers=h)).json()["schedules"]]
    assert first["id"] in ids


async def test_deleting_twice_at_once_removes_once(app, client):
    clinic = await make_clinic(app, client)
    lines = (await client.get(ME, headers=clinic.doctor.headers)).json()["schedules"]
    pair = await asyncio.gather(
        client.delete(f"{MINE}/{lines[0]['id']}", headers=clinic.doctor.headers),
        client.delete(f"{MINE}/{lines[0]['id']}", headers=clinic.doctor.headers),
    )
    assert sorted(r.status_code for r in pair) == [204, 404]
    pair = await asyncio.gather(
        client.delete(admin_url(clinic, lines[1]["id"]), headers=clinic.admin.headers),
        client.delete(admin_url(clinic, lines[1]["id"]), headers=clinic.admin.headers),
    )
    assert sorted(r.status_code for r in pair) == [204, 404]
