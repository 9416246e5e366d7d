"""Who may read a chart: the patient, a treating doctor, or a doctor breaking the glass (logged).

And the SOS emergency summary: the dispatch room, the receiving hospital and the crew, audited.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from care.models import CareAccessEvent
from dispatch.crew_tokens import issue_crew_token
from dispatch.models import CaseEvent, EmergencyDispatch
from tests.conftest import add_unit, sign_in, sos_body
from tests.support.care import free_slots, make_clinic, make_patient

CASES = "/api/v1/emergency/cases"
REASON = "unconscious patient in ED, no relationship on file"


async def fill_chart(client, patient) -> None:
    h = patient.headers
    for body in ({"substance": "penicillin", "reaction": "anaphylaxis", "severity": "severe"},
                 {"substance": "latex", "severity": "mild"}):
        assert (await client.post("/api/v1/patients/me/allergies", json=body,
                                  headers=h)).status_code == 201
    for body in ({"name": "Type 1 diabetes", "code": "E10"},
                 {"name": "Appendicitis", "clinical_status": "resolved"}):
        assert (await client.post("/api/v1/patients/me/conditions", json=body,
                                  headers=h)).status_code == 201
    r = await client.post("/api/v1/patients/me/emergency-contacts", headers=h,
                          json={"name": "Mikko", "relationship": "spouse",
                                "phone": "+358 40 1234567"})
    assert r.status_code == 201 and r.json()["phone"] == "+358401234567"


async def test_a_patient_reads_only_their_own_records(app, client):
    a = await make_patient(app, client, name="Patient A")
    b = await make_patient(app, client, name="Patient B")
    await fill_chart(client, b)
    own = await client.get("/api/v1/patients/me/records", headers=b.headers)
    assert own.status_code == 200 and own.json()["access"] == {"basis": "self", "flagged": False}
    assert {x["substance"] for x in own.json()["allergies"]} == {"penicillin", "latex"}
    r = await client.get(f"/api/v1/patients/{b.patient_id}/records", headers=a.headers)
    assert r.status_code == 403 and r.json()["code"] == "not_your_patient"
    # Break-glass is for doctors only.
    r = await client.get(f"/api/v1/patients/{b.patient_id}/records",
                         headers={**a.headers, "X-Break-Glass-Reason": REASON})
    assert r.status_code == 403
    r = await client.get(f"/api/v1/patients/{b.patient_id}/access-log", headers=a.headers)
    assert r.status_code == 403
    assert (await client.get(f"/api/v1/patients/{uuid.uuid4()}/records",
                             headers=a.headers)).status_code == 404
    assert (await client.get(f"/api/v1/patients/{b.patient_id}/records")).status_code == 401


async def test_a_doctor_needs_a_treatment_relationship_or_break_glass(app, client, clinic):
    patient = await make_patient(app, client)
    await fill_chart(client, patient)
    doctor = clinic.doctor.headers
    url = f"/api/v1/patients/{patient.patient_id}/records"
    r = await client.get(url, headers=doctor)
    assert r.status_code == 403 and r.json()["code"] == "no_treatment_relationship"
    r = await client.post(url, headers=doctor, json={"record_type": "visit", "payload": {}})
    assert r.status_code == 403
    r = await client.get(url, headers={**doctor, "X-Break-Glass-Reason": "because"})
    assert r.status_code == 422 and r.json()["code"] == "break_glass_reason_required"
    r = await client.get(url, headers={**doctor, "X-Break-Glass-Reason": REASON})
    assert r.status_code == 200
    assert r.json()["access"] == {"basis": "break_glass", "flagged": True}
    # ...and the tamper-evident audit trail holds a priority row naming the patient and why.
    from sqlalchemy import select

    from identity.models import AuditEntry

    async with app.state.session_factory() as session:
        rows = list(await session.scalars(select(AuditEntry).where(
            AuditEntry.patient_id == uuid.UUID(patient.patient_id), AuditEntry.priority.is_(True)
        )))
    assert [r.purpose for r in rows] == [f"break-glass: {REASON}"]
    log = (await client.get(f"/api/v1/patients/{patient.patient_id}/access-log",
                            headers=patient.headers)).json()
    assert log[0]["basis"] == "break_glass" and log[0]["flagged"] and log[0]["reason"] == REASON
    assert log[0]["actor"].endswith(str(clinic.doctor.user_id))
    # Admins and operators have no clinical need.
    assert (await client.get(url, headers=clinic.admin.headers)).status_code == 403
    operator = await sign_in(app, client, "emergency_operator")
    assert (await client.get(url, headers=operator.headers)).status_code == 403

    # An appointment makes a treatment relationship: read and write, unflagged.
    slot = (await free_slots(client, clinic))[0]
    r = await client.post("/api/v1/appointments", headers=patient.headers, json={
        "doctor_id": clinic.doctor_id, "hospital_id": slot["hospital_id"], "start": slot["start"]})
    assert r.status_code == 201
    r = await client.get(url, headers=doctor)
    assert r.status_code == 200 and r.json()["access"] == {"basis": "treatment", "flagged": False}
    r = await client.post(url, headers=doctor, json={
        "record_type": "prescription", "payload": {"drug": "insulin glargine", "dose_iu": 20}})
    assert r.status_code == 201, r.text
    chart = (await client.get("/api/v1/patients/me/records", headers=patient.headers)).json()
    assert chart["records"][0]["payload"]["drug"] == "insulin glargine"
    r = await client.post(url, headers=doctor, json={"record_type": "gossip", "payload": {}})
    assert r.status_code == 422
    # Another doctor, elsewhere, still has no relationship.
    other = await make_clinic(app, client, hospital_index=1)
    assert (await client.get(url, headers=other.doctor.headers)).status_code == 403


async def raise_for(client, operator, patient, hospital_id, *, dispatch: bool = True) -> dict:
    case = (await client.post(CASES, json=sos_body(patient_id=patient.patient_id),
                              headers=patient.headers)).json()
    r = await client.post(f"{CASES}/{case['id']}/triage", json={"severity": "critical"},
                          headers=operator.headers)
    assert r.status_code == 200, r.text
    if dispatch:
        unit = await add_unit(client, operator.headers)
        r = await client.post(f"{CASES}/{case['id']}/dispatch", headers=operator.headers,
                              json={"unit_id": unit["id"], "hospital_id": hospital_id})
        assert r.status_code == 200, r.text
    return case


async def test_emergency_summary_for_crew_and_hospital_audited(
    app, client, clinic, identity_settings
):
    operator = await sign_in(app, client, "emergency_operator")
    patient = await make_patient(app, client, name="Registered SOS")
    await fill_chart(client, patient)
    case = await raise_for(client, operator, patient, clinic.hospital_id)
    url = f"{CASES}/{case['id']}/patient-summary"

    r = await client.get(url, headers=operator.headers)
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["blood_group"] == "O-" and summary["raised_by_patient"] is True
    assert {a["substance"] for a in summary["allergies"]} == {"penicillin", "latex"}
    assert [c["name"] for c in summary["conditions"]] == ["Type 1 diabetes"]  # active only
    assert summary["emergency_contacts"] == [
        {"name": "Mikko", "relationship": "spouse", "phone": "+358401234567"}]
    # The receiving hospital's admin and its doctors see it; others do not.
    assert (await client.get(url, headers=clinic.admin.headers)).status_code == 200
    assert (await client.get(url, headers=clinic.doctor.headers)).status_code == 200
    elsewhere = await make_clinic(app, client, hospital_index=1)
    assert (await client.get(url, headers=elsewhere.admin.headers)).status_code == 403
    assert (await client.get(url, headers=elsewhere.doctor.headers)).status_code == 403
    assert (await client.get(url, headers=patient.headers)).status_code == 403
    # The crew of the live dispatch, through their link.
    async with app.state.session_factory() as session:
        dispatch = await session.scalar(select(EmergencyDispatch).where(
            EmergencyDispatch.case_id == uuid.UUID(case["id"])))
    token = issue_crew_token(dispatch_id=dispatch.id, case_id=dispatch.case_id,
                             unit_id=dispatch.unit_id, secret=identity_settings.secret_key)
    r = await client.get(f"/api/v1/crew/{token}/patient-summary")
    assert r.status_code == 200 and r.json()["blood_group"] == "O-"
    assert (await client.get(f"/api/v1/crew/{token[:-3]}xyz/patient-summary")).status_code == 403
    # Every read is on the case timeline and in the patient's access log.
    async with app.state.session_factory() as session:
        reads = list(await session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == uuid.UUID(case["id"]), CaseEvent.action == "phi_access")))
        log = list(await session.scalars(select(CareAccessEvent).where(
            CareAccessEvent.case_id == uuid.UUID(case["id"]))))
    assert len(reads) == len(log) == 4
    assert any(e.actor.startswith("crew:") for e in reads)
    assert {row.basis for row in log} == {"emergency"}
    timeline = (await client.get(f"{CASES}/{case['id']}", headers=operator.headers)).json()
    assert any(t["action"] == "phi_access" for t in timeline["timeline"])
    # The case is a treatment relationship for the receiving hospital's doctors.
    r = await client.get(f"/api/v1/patients/{patient.patient_id}/records",
                         headers=clinic.doctor.headers)
    assert r.status_code == 200 and r.json()["access"]["basis"] == "treatment"


async def test_anonymous_sos_has_no_summary(app, client):
    operator = await sign_in(app, client, "emergency_operator")
    case = (await client.post(CASES, json=sos_body())).json()
    r = await client.get(f"{CASES}/{case['id']}/patient-summary", headers=operator.headers)
    assert r.status_code == 404 and r.json()["code"] == "no_registered_patient"
    # An anonymous caller cannot attach someone's record (mass assignment)...
    patient = await make_patient(app, client)
    r = await client.post(CASES, json=sos_body(patient_id=patient.patient_id))
    assert r.status_code == 422 and r.json()["code"] == "unknown_patient"
    # ...an operator raising the SOS for them can, and the summary says it was not them.
    case = (
        await client.post(
            CASES, json=sos_body(patient_id=patient.patient_id), headers=operator.headers
        )
    ).json()
    r = await client.get(f"{CASES}/{case['id']}/patient-summary", headers=operator.headers)
    assert r.status_code == 200 and r.json()["raised_by_patient"] is False
