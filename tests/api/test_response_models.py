"""The real answers of the main care, coverage and geocoding routes match their declared models
field for field, so the OpenAPI schema tells clients the truth.

FastAPI already refuses an answer that misses a declared field (a 500 in any test that calls the
route); this also fails when an answer carries a field the model does not name (``extra="allow"``
would pass it through silently), at any depth: describe it in ``console_api/schemas``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import select

from dispatch.crew_tokens import issue_crew_token
from dispatch.models import EmergencyDispatch
from tests.conftest import add_unit, sign_in, sos_body
from tests.support.care import free_slots, make_clinic, make_patient

CASES = "/api/v1/emergency/cases"
APPOINTMENTS = "/api/v1/appointments"


def _undeclared(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, BaseModel):
        yield from (f"{where}.{key}" for key in value.__pydantic_extra__ or {})
        for name in type(value).model_fields:
            yield from _undeclared(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _undeclared(item, f"{where}[{i}]")


def declared(app, response: httpx.Response, status: int = 200) -> Any:
    """Check ``response`` against the model of the route that answered it; return its JSON."""
    assert response.status_code == status, response.text
    method, path = response.request.method, response.request.url.path
    route = next(r for r in iter_route_contexts(app.routes) if method in (r.methods or ())
                 and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", r.path), path))
    assert route.response_model is not None, f"{method} {route.path} declares no model"
    body = response.json()
    value = TypeAdapter(route.response_model).validate_python(body)
    undeclared = list(_undeclared(value, "$"))
    assert not undeclared, f"{method} {route.path}: describe {undeclared}"
    return body


async def test_care_answers_are_what_their_models_say(app, client, identity_settings):
    clinic = await make_clinic(app, client)
    patient = await make_patient(app, client)
    doctor, desk, me = clinic.doctor.headers, clinic.admin.headers, patient.headers
    declared(app, await client.get("/api/v1/patients/me/profile", headers=me))
    for path, body in (("emergency-contacts", {"name": "Matti", "phone": "+358401234567"}),
                       ("allergies", {"substance": "penicillin", "severity": "severe"}),
                       ("conditions", {"name": "asthma", "code": "J45"})):
        declared(app, await client.post(f"/api/v1/patients/me/{path}", json=body, headers=me),
                 201)
    slots = await free_slots(client, clinic)
    declared(app, await client.get(f"/api/v1/doctors/{clinic.doctor_id}/slots"))
    booked = declared(app, await client.post(APPOINTMENTS, headers=me, json={
        "doctor_id": clinic.doctor_id, "hospital_id": slots[0]["hospital_id"],
        "start": slots[0]["start"]}), 201)
    one = f"{APPOINTMENTS}/{booked['id']}"
    declared(app, await client.get(one, headers=me))
    declared(app, await client.get(f"{APPOINTMENTS}/mine", headers=me))
    declared(app, await client.post(f"{one}/confirm", headers=desk))
    declared(app, await client.post(f"{one}/check-in", headers=desk))
    declared(app, await client.get(f"{one}/queue", headers=me))
    day = date.fromisoformat(booked["start"][:10]).isoformat()
    declared(app, await client.get(f"{APPOINTMENTS}/day", headers=desk,
                                   params={"date": day, "hospital_id": clinic.hospital_id}))
    declared(app, await client.post(f"{one}/complete", headers=doctor))
    # A cancelled slot is offered to the waitlist, taken, and moved.
    other = declared(app, await client.post(APPOINTMENTS, headers=me, json={
        "doctor_id": clinic.doctor_id, "hospital_id": slots[1]["hospital_id"],
        "start": slots[1]["start"]}), 201)
    waiting = await make_patient(app, client, name="Waiting Patient")
    entry = declared(app, await client.post(APPOINTMENTS + "/waitlist", headers=waiting.headers,
                                            json={"doctor_id": clinic.doctor_id,
                                                  "not_before": slots[1]["start"],
                                                  "not_after": slots[1]["end"]}), 201)
    declared(app, await client.post(f"{APPOINTMENTS}/{other['id']}/cancel", headers=me))
    offers = declared(app, await client.get(APPOINTMENTS + "/waitlist", headers=waiting.headers))
    assert offers[0]["offer"], offers
    taken = declared(app, await client.post(f"{APPOINTMENTS}/waitlist/{entry['id']}/accept",
                                            headers=waiting.headers), 201)
    declared(app, await client.post(f"{APPOINTMENTS}/{taken['id']}/reschedule",
                                    headers=waiting.headers, json={"start": slots[2]["start"]}),
             201)
    third = declared(app, await client.post(APPOINTMENTS, headers=me, json={
        "doctor_id": clinic.doctor_id, "hospital_id": slots[3]["hospital_id"],
        "start": slots[3]["start"]}), 201)
    r = await client.post(f"{APPOINTMENTS}/{third['id']}/no-show", headers=doctor)
    assert r.status_code == 409 and r.json()["code"] == "too_early"  # a problem, not a model

    chart = f"/api/v1/patients/{patient.patient_id}/records"
    declared(app, await client.post(chart, headers=doctor, json={
        "record_type": "visit", "payload": {"note": "wheeze"}}), 201)
    declared(app, await client.get(chart, headers=doctor))
    declared(app, await client.get("/api/v1/patients/me/records", headers=me))
    declared(app, await client.get(f"/api/v1/patients/{patient.patient_id}/access-log",
                                   headers=me))

    declared(app, await client.get("/api/v1/doctors/me", headers=doctor))
    declared(app, await client.put("/api/v1/doctors/me/availability", headers=doctor,
                                   json={"state": "available"}))
    declared(app, await client.post("/api/v1/doctors/me/heartbeat", headers=doctor))
    hospital = f"/api/v1/hospitals/{clinic.hospital_id}"
    declared(app, await client.get(f"{hospital}/doctors", headers=desk))
    declared(app, await client.get(f"{hospital}/departments"))
    declared(app, await client.get(f"{hospital}/dashboard-metrics", headers=desk))

    operator = await sign_in(app, client, "emergency_operator")
    case = declared(app, await client.post(CASES, json=sos_body(patient_id=patient.patient_id),
                                           headers=me), 201)
    r = await client.post(f"{CASES}/{case['id']}/triage", json={"severity": "critical"},
                          headers=operator.headers)
    assert r.status_code == 200, r.text
    unit = await add_unit(client, operator.headers)
    r = await client.post(f"{CASES}/{case['id']}/dispatch", headers=operator.headers,
                          json={"unit_id": unit["id"], "hospital_id": clinic.hospital_id})
    assert r.status_code == 200, r.text
    summary = declared(app, await client.get(f"{CASES}/{case['id']}/patient-summary",
                                             headers=operator.headers))
    assert summary["allergies"] == [{"substance": "penicillin", "reaction": None,
                                     "severity": "severe"}]
    async with app.state.session_factory() as session:
        sent = await session.scalar(select(EmergencyDispatch).where(
            EmergencyDispatch.case_id == uuid.UUID(case["id"])))
    token = issue_crew_token(dispatch_id=sent.id, case_id=sent.case_id, unit_id=sent.unit_id,
                             secret=identity_settings.secret_key)
    declared(app, await client.get(f"/api/v1/crew/{token}/patient-summary"))


async def test_coverage_answers_are_what_their_models_say(app, client, operator):
    h, region = operator.headers, {"region": "helsinki"}
    unit = await add_unit(client, h, lat=60.1690, lng=24.9400)
    declared(app, await client.get("/api/v1/coverage/regions", headers=h))
    report = declared(app, await client.get("/api/v1/coverage", headers=h,
                                            params={**region, "minutes": 1}))
    assert report["uncovered"]["features"], "a cell out of reach in 1 min: its GeoJSON checked"
    declared(app, await client.get("/api/v1/coverage/move-ups", params=region, headers=h))
    post = declared(app, await client.post("/api/v1/coverage/posts", headers=h, json={
        "region": "helsinki", "name": f"Standby {uuid.uuid4().hex[:6]}", "lat": 60.1745,
        "lng": 24.9480}), 201)
    declared(app, await client.get("/api/v1/coverage/posts", params=region, headers=h))
    declared(app, await client.post(f"/api/v1/units/{unit['id']}/move-up", headers=h,
                                    json={"post_id": post["id"]}), 201)
    case = (await client.post(CASES, json=sos_body())).json()
    declared(app, await client.get("/api/v1/coverage/dispatch-cost", headers=h,
                                   params={"case_id": case["id"]}))


async def test_geocoding_answers_are_what_their_models_say(app, client):
    found = declared(app, await client.get("/api/v1/geocode", params={"q": "Mannerheimintie"}))
    assert found["features"] and "message" not in found
    nothing = declared(app, await client.get("/api/v1/geocode", params={"q": "Qwxzyv Zzq"}))
    assert list(nothing) == ["type", "query", "features", "message"]
    near = declared(app, await client.get("/api/v1/geocode/reverse",
                                          params={"lat": 60.1699, "lng": 24.9384}))
    assert list(near) == ["label", "kind", "street", "on_street", "distance_m"]
    far = declared(app, await client.get("/api/v1/geocode/reverse", params={"lat": 0, "lng": 0}))
    assert list(far) == ["label", "kind", "street", "distance_m", "message"]
    declared(app, await client.get("/api/v1/regions"))
