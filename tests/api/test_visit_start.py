"""Start visit (issue 25): checked in -> in progress, stamped, in the history, the audit trail
and the outbox; the others in the queue move up. Tried as each role, on another doctor's
appointment, with an expired token, with garbage and twice at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import jwt
from sqlalchemy import select

from care.models import AppointmentEvent
from care.settings import get_care_settings
from data.base import utcnow
from data.outbox import OutboxEvent
from identity.models import AuditEntry
from tests.api.test_sessions_and_mfa import claims_for
from tests.conftest import sign_in
from tests.support.care import free_slots, make_clinic, make_patient

APPOINTMENTS = "/api/v1/appointments"


async def same_day_slots(client, clinic, n: int) -> list[dict]:
    """``n`` free slots on one local day of the clinic (the queue is per local day)."""
    tz = ZoneInfo(get_care_settings().timezone)
    slots = await free_slots(client, clinic, days_ahead=2)
    by_day: dict[object, list[dict]] = {}
    for slot in slots:
        by_day.setdefault(datetime.fromisoformat(slot["start"]).astimezone(tz).date(), []
                          ).append(slot)
    return max(by_day.values(), key=len)[:n]  # the 24 h asked span two local days


async def checked_in(app, client, clinic, n: int) -> tuple[list, list[str]]:
    patients = [await make_patient(app, client) for _ in range(n)]
    ids = []
    for p, slot in zip(patients, await same_day_slots(client, clinic, n), strict=True):
        r = await client.post(APPOINTMENTS, headers=p.headers, json={
            "doctor_id": clinic.doctor_id, "hospital_id": slot["hospital_id"],
            "start": slot["start"]})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    for appointment_id in ids:
        r = await client.post(f"{APPOINTMENTS}/{appointment_id}/check-in",
                              headers=clinic.admin.headers)
        assert r.status_code == 200, r.text
    return patients, ids


async def test_start_moves_the_patient_out_of_the_queue_with_a_trail(app, client, clinic):
    patients, ids = await checked_in(app, client, clinic, 3)
    async with app.state.session_factory() as session:
        audit_from = await session.scalar(select(AuditEntry.seq).order_by(
            AuditEntry.seq.desc()).limit(1)) or 0
    before = (await client.get(f"{APPOINTMENTS}/{ids[2]}/queue",
                               headers=patients[2].headers)).json()
    assert before["position"] == 3
    r = await client.post(f"{APPOINTMENTS}/{ids[0]}/start", headers=clinic.doctor.headers)
    assert r.status_code == 200, r.text
    started = r.json()
    assert started["status"] == "in_progress" and started["started_at"]
    assert started["allowed_actions"] == ["complete"]
    assert r.headers["ETag"] == f'"{started["version"]}"'
    # The others move up; the started patient is no longer waiting.
    after = [(await client.get(f"{APPOINTMENTS}/{i}/queue", headers=p.headers)).json()
             for p, i in zip(patients, ids, strict=True)]
    assert [q["position"] for q in after] == [None, 1, 2]
    assert after[0]["status"] == "in_progress"
    r = await client.post(f"{APPOINTMENTS}/{ids[0]}/complete", headers=clinic.doctor.headers)
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert r.json()["started_at"] == started["started_at"]
    async with app.state.session_factory() as session:
        history = list(await session.scalars(
            select(AppointmentEvent.event_type).where(
                AppointmentEvent.appointment_id == uuid.UUID(ids[0]))
            .order_by(AppointmentEvent.created_at)))
        queue_events = list(await session.scalars(
            select(OutboxEvent).where(OutboxEvent.channel == "appointment.queue.updated",
                                      OutboxEvent.aggregate_id == ids[0])
            .order_by(OutboxEvent.id)))
        audited = list(await session.scalars(
            select(AuditEntry).where(AuditEntry.seq > audit_from, AuditEntry.action ==
                                     "POST /api/v1/appointments/{appointment_id}/start")))
    assert history == ["booked", "check_in", "start", "complete"]
    start_event = next(e for e in queue_events if e.payload["status"] == "in_progress")
    assert start_event.payload["queue"] == ids[1:]
    assert [a.outcome for a in audited] == ["allowed"]
    assert audited[0].object_id == ids[0] or audited[0].object_type == "appointment"


async def test_start_as_each_role_and_on_others_appointments(app, client, clinic,
                                                             identity_settings):
    patients, ids = await checked_in(app, client, clinic, 1)
    url = f"{APPOINTMENTS}/{ids[0]}/start"
    # The patient may read it but not start it; anyone unrelated does not learn it exists.
    r = await client.post(url, headers=patients[0].headers)
    assert r.status_code == 403 and r.json()["code"] == "action_forbidden"
    other = await make_clinic(app, client, hospital_index=1)
    strangers = [other.doctor, other.admin, (await make_patient(app, client)).user,
                 await sign_in(app, client, "emergency_operator")]
    for who in strangers:
        r = await client.post(url, headers=who.headers)
        assert r.status_code in (403, 404), (who, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.post(url)).status_code == 401
    expired = jwt.encode({**claims_for(clinic.doctor.user_id, identity_settings),
                          "exp": utcnow() - timedelta(seconds=5)}, identity_settings.secret_key)
    assert (await client.post(url, headers={"Authorization": f"Bearer {expired}"})
            ).status_code == 401
    for garbage in ("not-a-uuid", "1", "%00"):
        r = await client.post(f"{APPOINTMENTS}/{garbage}/start", headers=clinic.doctor.headers)
        assert r.status_code in (404, 422), garbage
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(f"{APPOINTMENTS}/{uuid.uuid4()}/start", headers=clinic.doctor.headers)
    assert r.status_code == 404
    r = await client.post(url, headers={**clinic.doctor.headers, "If-Match": '"1"'})
    assert r.status_code == 412
    # Nothing above moved it; the desk may start it too.
    r = await client.post(url, headers=clinic.admin.headers)
    assert r.status_code == 200 and r.json()["status"] == "in_progress"


async def test_start_from_booked_is_409_and_twice_at_once_starts_once(app, client, clinic):
    patient = await make_patient(app, client)
    slot = (await same_day_slots(client, clinic, 1))[0]
    made = (await client.post(APPOINTMENTS, headers=patient.headers, json={
        "doctor_id": clinic.doctor_id, "hospital_id": slot["hospital_id"],
        "start": slot["start"]})).json()
    url = f"{APPOINTMENTS}/{made['id']}"
    r = await client.post(f"{url}/start", headers=clinic.doctor.headers)
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    assert r.json()["allowed_actions"] and "start" not in r.json()["allowed_actions"]
    assert (await client.post(f"{url}/check-in", headers=clinic.doctor.headers)
            ).status_code == 200
    pair = await asyncio.gather(
        client.post(f"{url}/start", headers=clinic.doctor.headers),
        client.post(f"{url}/start", headers=clinic.admin.headers),
    )
    assert sorted(r.status_code for r in pair) == [200, 409], [r.text for r in pair]
    loser = next(r for r in pair if r.status_code == 409)
    assert loser.json()["code"] in ("concurrent_update", "invalid_transition")
    async with app.state.session_factory() as session:
        starts = list(await session.scalars(
            select(AppointmentEvent.event_type).where(
                AppointmentEvent.appointment_id == uuid.UUID(made["id"]),
                AppointmentEvent.event_type == "start")))
    assert starts == ["start"]
