"""Every route's success response is described in the OpenAPI schema, so clients and reviewers
see what comes back (a response model, or a declared non-JSON body such as TwiML or FHIR)."""

from __future__ import annotations

from typing import Any

import pytest

from console_api.app import create_app

#: Routes still answering an untyped JSON object (``dict[str, Any]``). This list only shrinks:
#: type a route, then delete its line here (the test says so when one is typed).
NOT_YET_TYPED = frozenset({
    "GET /api/v1/appointments/day",
    "GET /api/v1/appointments/mine",
    "GET /api/v1/appointments/waitlist",
    "GET /api/v1/appointments/{appointment_id}",
    "GET /api/v1/appointments/{appointment_id}/queue",
    "GET /api/v1/coverage",
    "GET /api/v1/doctors/me",  # the doctor portal's (issue 25), merged with this list
    "GET /api/v1/hospitals/{hospital_id}/doctors",
    "GET /api/v1/coverage/dispatch-cost",
    "GET /api/v1/coverage/move-ups",
    "GET /api/v1/coverage/posts",
    "GET /api/v1/coverage/regions",
    "GET /api/v1/crew/{token}/patient-summary",
    "GET /api/v1/doctors/{doctor_id}/slots",
    "GET /api/v1/emergency/cases/{case_id}/patient-summary",
    "GET /api/v1/geocode",
    "GET /api/v1/geocode/reverse",
    "GET /api/v1/hospitals/{hospital_id}/dashboard-metrics",
    "GET /api/v1/hospitals/{hospital_id}/departments",
    "GET /api/v1/patients/me/profile",
    "GET /api/v1/patients/me/records",
    "GET /api/v1/patients/{patient_id}/access-log",
    "GET /api/v1/patients/{patient_id}/records",
    "GET /api/v1/regions",
    "POST /api/v1/appointments",
    "POST /api/v1/appointments/waitlist",
    "POST /api/v1/appointments/waitlist/{entry_id}/accept",
    "POST /api/v1/appointments/{appointment_id}/cancel",
    "POST /api/v1/appointments/{appointment_id}/check-in",
    "POST /api/v1/appointments/{appointment_id}/complete",
    "POST /api/v1/appointments/{appointment_id}/confirm",
    "POST /api/v1/appointments/{appointment_id}/no-show",
    "POST /api/v1/appointments/{appointment_id}/reschedule",
    "POST /api/v1/coverage/posts",
    "POST /api/v1/doctors/me/affiliations/{hospital_id}/accept",
    "POST /api/v1/doctors/me/heartbeat",
    "POST /api/v1/hospitals/{hospital_id}/departments",
    "POST /api/v1/hospitals/{hospital_id}/doctors",
    "POST /api/v1/hospitals/{hospital_id}/doctors/{doctor_id}/schedules",
    "POST /api/v1/patients/me/allergies",
    "POST /api/v1/patients/me/conditions",
    "POST /api/v1/patients/me/emergency-contacts",
    "POST /api/v1/patients/{patient_id}/records",
    "POST /api/v1/units/{unit_id}/move-up",
    "PUT /api/v1/doctors/me/availability",
    "PUT /api/v1/patients/me/profile",
})


def _typed_schema(schema: dict[str, Any]) -> bool:
    """A named model, a list of them, or a scalar: anything but an anonymous object."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return _typed_schema(schema.get("items", {}))
    if "anyOf" in schema or "oneOf" in schema:
        return all(_typed_schema(s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    return schema.get("type") in {"string", "integer", "number", "boolean", "null"}


def _typed(operation: dict[str, Any]) -> bool:
    for code, response in operation.get("responses", {}).items():
        if not code.startswith("2"):
            continue
        content = response.get("content")
        if content is None:  # 204 and friends: no body to describe
            return True
        for media_type, body in content.items():
            if media_type != "application/json" and body.get("schema"):
                return True  # TwiML, EDXL-HAVE XML, FHIR JSON, Prometheus text: named formats
            if _typed_schema(body.get("schema", {})):
                return True
    return False


@pytest.fixture(scope="module")
def operations() -> dict[str, dict[str, Any]]:
    schema = create_app().openapi()
    return {
        f"{method.upper()} {path}": operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }


def test_every_route_describes_its_success_response(operations):
    untyped = {key for key, operation in operations.items() if not _typed(operation)}
    assert not untyped - NOT_YET_TYPED, f"give a response model: {sorted(untyped - NOT_YET_TYPED)}"
    typed_now = NOT_YET_TYPED & (operations.keys() - untyped)
    assert not typed_now, f"typed now: delete them from NOT_YET_TYPED: {sorted(typed_now)}"
    assert not NOT_YET_TYPED - operations.keys(), "routes gone: delete them from NOT_YET_TYPED"
