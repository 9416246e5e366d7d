"""The reads the doctor portal and the hospital admin panel need (issue 25): the doctor's own
profile with pending affiliations and schedule, a hospital's roster, names on the agenda, and
the chart naming its patient. Each as every role, with another object's id, an expired token,
garbage and twice at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import jwt

from data.base import utcnow
from tests.api.test_sessions_and_mfa import claims_for
from tests.conftest import sign_in
from tests.support.care import demo_hospitals, free_slots, make_clinic, make_patient

ME = "/api/v1/doctors/me"


def roster_url(hospital_id) -> str:
    return f"/api/v1/hospitals/{hospital_id}/doctors"


async def test_my_doctor_profile_shows_affiliations_state_and_week(app, client):
    clinic = await make_clinic(app, client, accepted=False)
    r = await client.get(ME, headers=clinic.doctor.headers)
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["id"] == clinic.doctor_id and me["availability"] == "offline"
    [link] = me["affiliations"]
    assert link["hospital_id"] == clinic.hospital_id and link["accepted_at"] is None
    assert link["department"] == "General practice" and link["hospital_name"]
    assert {s["weekday"] for s in me["schedules"]} == set(range(7))
    assert me["schedules"][0]["start_time"] == "00:00"
    # Accepting shows at once; a state set shows as the live state.
    r = await client.post(f"/api/v1/doctors/me/affiliations/{clinic.hospital_id}/accept",
                          headers=clinic.doctor.headers)
    assert r.status_code == 200
    r = await client.put("/api/v1/doctors/me/availability", json={"state": "busy"},
                         headers=clinic.doctor.headers)
    assert r.status_code == 200
    me = (await client.get(ME, headers=clinic.doctor.headers)).json()
    assert me["affiliations"][0]["accepted_at"] and me["availability"] == "busy"


async def test_my_doctor_profile_refuses_the_others(app, client, identity_settings):
    hospital = (await demo_hospitals(app))[0]
    for role in ("patient", "hospital_admin", "emergency_operator", "super_admin"):
        user = await sign_in(app, client, role, hospital_id=hospital)
        r = await client.get(ME, headers=user.headers)
        assert r.status_code == 403, role
    # A doctor user with no profile yet.
    bare = await sign_in(app, client, "doctor")
    r = await client.get(ME, headers=bare.headers)
    assert r.status_code == 404 and r.json()["code"] == "no_doctor_profile"
    assert (await client.get(ME)).status_code == 401
    expired = jwt.encode({**claims_for(bare.user_id, identity_settings),
                          "exp": utcnow() - timedelta(seconds=5)}, identity_settings.secret_key)
    for token in (expired, "garbage"):
        r = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401


async def test_roster_is_the_hospitals_own_admins(app, client, identity_settings):
    clinic = await make_clinic(app, client, accepted=False)
    r = await client.get(roster_url(clinic.hospital_id), headers=clinic.admin.headers)
    assert r.status_code == 200, r.text
    # The session's tests share the demo hospitals: pick this clinic's doctor out.
    [row] = [d for d in r.json() if d["doctor_id"] == clinic.doctor_id]
    assert row["accepted_at"] is None
    assert row["availability"] == "offline" and len(row["schedules"]) == 7
    assert row["department"] == "General practice"
    # Super admin sees it; a doctor, patient, operator or another hospital's admin do not.
    root = await sign_in(app, client, "super_admin")
    assert (await client.get(roster_url(clinic.hospital_id), headers=root.headers)
            ).status_code == 200
    other = await make_clinic(app, client, hospital_index=1)
    # Another hospital's admin passes the role check and is refused by the object rule.
    r = await client.get(roster_url(clinic.hospital_id), headers=other.admin.headers)
    assert r.status_code == 403 and r.json()["code"] == "not_your_hospital"
    for headers in (clinic.doctor.headers, (await sign_in(app, client, "patient")).headers,
                    (await sign_in(app, client, "emergency_operator")).headers):
        r = await client.get(roster_url(clinic.hospital_id), headers=headers)
        assert r.status_code == 403
    # Another object's id: the admin's own roster shows only their own doctors.
    mine = (await client.get(roster_url(other.hospital_id), headers=other.admin.headers)).json()
    assert clinic.doctor_id not in {d["doctor_id"] for d in mine}
    r = await client.get(roster_url(uuid.uuid4()), headers=root.headers)
    assert r.status_code == 404 and r.json()["code"] == "hospital_not_found"
    r = await client.get(roster_url("garbage"), headers=root.headers)
    assert r.status_code == 422
    assert (await client.get(roster_url(clinic.hospital_id))).status_code == 401
    expired = jwt.encode({**claims_for(root.user_id, identity_settings),
                          "exp": utcnow() - timedelta(seconds=5)}, identity_settings.secret_key)
    r = await client.get(roster_url(clinic.hospital_id),
                         headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401


async def test_both_reads_twice_at_once_agree(app, client):
    clinic = await make_clinic(app, client)
    pair = await asyncio.gather(
        client.get(ME, headers=clinic.doctor.headers),
        client.get(ME, headers=clinic.doctor.headers),
        client.get(roster_url(clinic.hospital_id), headers=clinic.admin.headers),
        client.get(roster_url(clinic.hospital_id), headers=clinic.admin.headers),
    )
    assert [r.status_code for r in pair] == [200] * 4
    assert pair[0].json() == pair[1].json() and pair[2].json() == pair[3].json()


async def test_agenda_names_the_patient_and_the_chart_names_its_owner(app, client):
    clinic = await make_clinic(app, client)
    patient = await make_patient(app, client, name="Helmi Korhonen")
    # A slot later today (local), so today's agenda holds it and the relationship is live.
    slots = await free_slots(client, clinic, days_ahead=0)
    slot = slots[1]
    r = await client.post("/api/v1/appointments", headers={
        **patient.headers, "Idempotency-Key": str(uuid.uuid4())}, json={
        "doctor_id": clinic.doctor_id, "hospital_id": clinic.hospital_id, "start": slot["start"]})
    assert r.status_code == 201, r.text
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from care.settings import get_care_settings

    day = datetime.fromisoformat(slot["start"]).astimezone(
        ZoneInfo(get_care_settings().timezone)).date().isoformat()
    agenda = await client.get("/api/v1/appointments/day", params={"date": day},
                              headers=clinic.doctor.headers)
    assert agenda.status_code == 200
    assert [a["patient_name"] for a in agenda.json()] == ["Helmi Korhonen"]  # a fresh doctor
    desk = await client.get("/api/v1/appointments/day",
                            params={"date": day, "hospital_id": clinic.hospital_id},
                            headers=clinic.admin.headers)
    assert "Helmi Korhonen" in [a["patient_name"] for a in desk.json()]
    chart = await client.get(f"/api/v1/patients/{patient.patient_id}/records",
                             headers=clinic.doctor.headers)
    assert chart.status_code == 200, chart.text
    assert chart.json()["patient"] == {"full_name": "Helmi Korhonen", "dob": "1980-05-17",
                                       "gender": "female", "blood_group": "O-"}
