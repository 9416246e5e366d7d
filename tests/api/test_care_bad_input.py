"""Bad input to the care API is always a clear 4xx problem, never a 500."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio

from tests.support.care import make_patient

NOWHERE = str(uuid.uuid4())


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def caller(app, client):
    return await make_patient(app, client)


@pytest.mark.parametrize(
    ("method", "path", "body", "params", "status"),
    [
        ("get", "/api/v1/doctors/not-a-uuid", None, None, 422),
        ("get", f"/api/v1/doctors/{NOWHERE}", None, None, 404),
        ("get", f"/api/v1/doctors/{NOWHERE}/slots", None, None, 404),
        ("get", f"/api/v1/doctors/{NOWHERE}/slots", None, {"from": "yesterday"}, 422),
        ("get", f"/api/v1/doctors/{NOWHERE}/slots", None, {"from": "2026-01-01T00:00"}, 422),
        ("get", "/api/v1/doctors", None, {"limit": 0}, 422),
        ("put", "/api/v1/patients/me/profile", {"full_name": "X", "phone": "12345"}, None, 422),
        ("put", "/api/v1/patients/me/profile", {"full_name": "X", "blood_group": "Z+"}, None, 422),
        ("put", "/api/v1/patients/me/profile", {"full_name": "", "extra": 1}, None, 422),
        ("post", "/api/v1/patients/me/emergency-contacts", {"name": "A", "phone": "abc"}, None,
         422),
        ("post", "/api/v1/patients/me/allergies", {"substance": "x", "severity": "lethal"}, None,
         422),
        ("post", "/api/v1/appointments", {"doctor_id": NOWHERE}, None, 422),
        ("post", "/api/v1/appointments/waitlist",
         {"doctor_id": NOWHERE, "not_before": "2026-12-02T10:00:00Z",
          "not_after": "2026-12-01T10:00:00Z"}, None, 422),
        ("post", "/api/v1/appointments/waitlist",
         {"doctor_id": NOWHERE, "not_before": "2026-12-01T10:00:00Z",
          "not_after": "2026-12-02T10:00:00Z"}, None, 404),
        ("post", f"/api/v1/appointments/{NOWHERE}/confirm", None, None, 404),
        ("post", f"/api/v1/appointments/{NOWHERE}/reschedule", {"start": "soon"}, None, 422),
        ("get", f"/api/v1/appointments/{NOWHERE}/queue", None, None, 404),
        ("post", f"/api/v1/appointments/waitlist/{NOWHERE}/accept", None, None, 404),
        ("get", f"/api/v1/emergency/cases/{NOWHERE}/patient-summary", None, None, 404),
        ("get", "/api/v1/crew/garbage/patient-summary", None, None, 403),
        ("get", f"/api/v1/hospitals/{NOWHERE}/dashboard-metrics", None, None, 403),
        ("post", f"/api/v1/hospitals/{NOWHERE}/departments", {"name": "x"}, None, 403),
        ("get", f"/api/v1/hospitals/{NOWHERE}/departments", None, None, 404),
        ("get", f"/fhir/Encounter/{NOWHERE}", None, None, 404),
        ("get", "/fhir/Encounter", None, {"patient": "Patient/nope"}, 422),
    ],
)
async def test_bad_input_is_a_clear_4xx(client, caller, method, path, body, params, status):
    patient = caller
    kwargs = {"headers": patient.headers, "params": params}
    if body is not None:
        kwargs["json"] = body
    r = await client.request(method.upper(), path, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
