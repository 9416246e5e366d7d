"""The FHIR facade: every resource it returns for real rows validates with fhir.resources (R4)."""

from __future__ import annotations

import uuid

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner

from tests.api.test_care_records_access import fill_chart, raise_for
from tests.conftest import sign_in
from tests.support.care import free_slots, make_patient

MODELS = {
    "Patient": Patient, "Practitioner": Practitioner, "Organization": Organization,
    "Location": Location, "Appointment": Appointment, "Encounter": Encounter,
}


async def fetch(client, path, headers=None, status=200):
    r = await client.get(path, headers=headers)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.headers["content-type"].startswith("application/fhir+json")
    return r.json()


#: Required bindings fhir.resources does not enforce itself (R4 value sets).
REQUIRED_CODES = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Appointment", "status"): {"proposed", "pending", "booked", "arrived", "fulfilled",
                                "cancelled", "noshow", "entered-in-error", "checked-in",
                                "waitlist"},
    ("Encounter", "status"): {"planned", "arrived", "triaged", "in-progress", "onleave",
                              "finished", "cancelled", "entered-in-error", "unknown"},
    ("Location", "status"): {"active", "suspended", "inactive"},
    ("Location", "mode"): {"instance", "kind"},
}


def valid(kind: str, body: dict):
    """Parse with the R4 model; re-serialising must give the same document."""
    assert body["resourceType"] == kind
    for (resource, field), codes in REQUIRED_CODES.items():
        if resource == kind and field in body:
            assert body[field] in codes, (kind, field, body[field])
    assert all(v not in (None, [], {}, "") for v in body.values()), body
    model = MODELS[kind].model_validate(body)
    assert MODELS[kind].model_validate_json(model.model_dump_json()) == model
    return model


async def test_every_resource_validates_for_real_rows(app, client, clinic, identity_settings):
    operator = await sign_in(app, client, "emergency_operator")
    patient = await make_patient(app, client, name="Fhir Patient")
    await fill_chart(client, patient)
    slot = (await free_slots(client, clinic))[0]
    booked = (await client.post("/api/v1/appointments", headers=patient.headers, json={
        "doctor_id": clinic.doctor_id, "hospital_id": slot["hospital_id"],
        "start": slot["start"], "reason": "diabetes review"})).json()
    case = await raise_for(client, operator, patient, clinic.hospital_id)
    h = patient.headers

    p = valid("Patient", await fetch(client, f"/fhir/Patient/{patient.patient_id}", h))
    assert p.birthDate.isoformat() == "1980-05-17" and p.gender == "female"
    assert p.contact[0].telecom[0].value == "+358401234567"
    pr = valid("Practitioner", await fetch(client, f"/fhir/Practitioner/{clinic.doctor_id}", h))
    assert pr.identifier[0].value.startswith("FI-")
    assert {c.coding[0].code for c in pr.communication} == {"en", "fi"}
    org = valid("Organization",
                await fetch(client, f"/fhir/Organization/{clinic.hospital_id}", h))
    loc = valid("Location", await fetch(client, f"/fhir/Location/{clinic.hospital_id}", h))
    assert org.name == loc.name
    assert 60 < float(loc.position.latitude) < 61 and 24 < float(loc.position.longitude) < 26
    ap = valid("Appointment", await fetch(client, f"/fhir/Appointment/{booked['id']}", h))
    assert ap.status == "booked" and len(ap.participant) == 3
    enc = valid("Encounter", await fetch(client, f"/fhir/Encounter/{case['id']}", h))
    assert enc.class_fhir.code == "EMER" and enc.status == "in-progress"
    assert enc.subject.reference == f"Patient/{patient.patient_id}"
    assert enc.serviceProvider.reference == f"Organization/{clinic.hospital_id}"
    valid("Encounter", await fetch(client, f"/fhir/Encounter/{case['id']}", operator.headers))

    for kind, wanted in (("Appointment", booked["id"]), ("Encounter", case["id"])):
        body = await fetch(client, f"/fhir/{kind}?patient={patient.patient_id}", h)
        bundle = Bundle.model_validate(body)
        assert bundle.type == "searchset" and bundle.total == 1
        entry = body["entry"][0]
        assert entry["resource"]["id"] == wanted and entry["fullUrl"].endswith(f"/{kind}/{wanted}")
        valid(kind, entry["resource"])

    cancelled = await client.post(f"/api/v1/appointments/{booked['id']}/cancel", headers=h)
    assert cancelled.status_code == 200
    ap = valid("Appointment", await fetch(client, f"/fhir/Appointment/{booked['id']}", h))
    assert ap.status == "cancelled"


async def test_metadata_is_a_valid_capability_statement(client):
    body = await fetch(client, "/fhir/metadata")
    statement = CapabilityStatement.model_validate(body)
    assert statement.fhirVersion == "4.0.1" and statement.kind == "instance"
    served = {r.type: r for r in statement.rest[0].resource}
    assert set(served) == set(MODELS) | {"HealthcareService"}  # tests/hospitals covers it
    assert [p.name for p in served["Encounter"].searchParam] == ["patient"]


async def test_same_rules_as_the_native_api(app, client, clinic):
    a = await make_patient(app, client)
    b = await make_patient(app, client)
    await fetch(client, f"/fhir/Patient/{b.patient_id}", a.headers, status=403)
    await fetch(client, f"/fhir/Appointment?patient={b.patient_id}", a.headers, status=403)
    await fetch(client, f"/fhir/Encounter?patient={b.patient_id}", a.headers, status=403)
    await fetch(client, f"/fhir/Patient/{b.patient_id}", clinic.doctor.headers, status=403)
    r = await client.get(f"/fhir/Patient/{b.patient_id}",
                         headers={**clinic.doctor.headers,
                                  "X-Break-Glass-Reason": "collapsed in the waiting room"})
    assert r.status_code == 200
    valid("Patient", r.json())
    await fetch(client, f"/fhir/Patient/{b.patient_id}", status=401)
    await fetch(client, "/fhir/Patient/not-a-uuid", a.headers, status=422)
    await fetch(client, f"/fhir/Practitioner/{uuid.uuid4()}", a.headers, status=404)
    await fetch(client, f"/fhir/Observation/{uuid.uuid4()}", a.headers, status=404)
    await fetch(client, "/fhir/Appointment", a.headers, status=422)
    await fetch(client, f"/fhir/Patient?patient={a.patient_id}", a.headers, status=404)
    own = await fetch(client, f"/fhir/Appointment?patient={a.patient_id}", a.headers)
    assert Bundle.model_validate(own).total == 0
