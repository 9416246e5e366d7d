"""Every route in the OpenAPI schema × every role (+ anonymous, wrong hospital, another patient).

A route added without a line in ``console_api.access.ROUTE_ACCESS`` fails
``test_every_route_has_exactly_one_entry``, and is refused to everyone at run time.
"""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute

from console_api.access import ROUTE_ACCESS, check
from data.errors import Forbidden
from identity.roles import PERMISSIONS, Role
from identity.tokens import AccessClaims

ROLES = [r.value for r in Role]
#: The role × action matrix, spelled out: changing identity.roles must change this on purpose.
EXPECTED_PERMISSIONS = {
    "case.read": {"emergency_operator", "super_admin", "hospital_admin", "doctor", "patient"},
    "case.list": {"emergency_operator", "super_admin", "hospital_admin"},
    "case.triage": {"emergency_operator", "super_admin"},
    "case.dispatch": {"emergency_operator", "super_admin"},
    "case.arrive": {"emergency_operator", "super_admin"},
    "case.close": {"emergency_operator", "super_admin"},
    "case.cancel": {"emergency_operator", "super_admin"},
    "case.acknowledge": {"hospital_admin"},
    "case.redirect": {"emergency_operator", "super_admin"},
    "road.close": {"emergency_operator", "super_admin"},
    "unit.manage": {"emergency_operator", "super_admin"},
    "unit.read": {"emergency_operator", "super_admin", "hospital_admin"},
    "unit.position": {"emergency_operator", "super_admin"},
    "coverage.read": {"emergency_operator", "super_admin"},
    "metrics.read": {"emergency_operator", "super_admin"},
    "sms.read": {"emergency_operator", "super_admin"},
    "user.create": {"super_admin"},
    "hospital.capacity": {"hospital_admin", "super_admin"},
    "hospital.incoming": {"hospital_admin", "emergency_operator", "super_admin"},
    "audit.read": {"super_admin"},
    "policy.manage": {"super_admin"},
    "patient.self": {"patient"},
    "patient.access_log": {"patient", "super_admin"},
    "doctor.self": {"doctor"},
    "doctor.verify": {"super_admin"},
    "doctor.manage": {"hospital_admin", "super_admin"},
    "hospital.dashboard": {"hospital_admin", "emergency_operator", "super_admin"},
    "mfa.manage": set(ROLES),
}
#: Open routes whose handler demands a capability (crew link, Twilio signature) nobody sends here.
CAPABILITY_ONLY = {
    "GET /api/v1/crew/{token}",
    "POST /api/v1/crew/{token}/status",
    "POST /api/v1/sms/inbound",
    "POST /api/v1/sms/status",
    "GET /api/v1/crew/{token}/patient-summary",
}
#: Routes about one hospital: its own admin passes, another hospital's admin does not.
HOSPITAL_SCOPED = {
    "PUT /api/v1/hospitals/{hospital_id}/capacity",
    "GET /api/v1/hospitals/{hospital_id}/incoming",
    "GET /api/v1/hospitals/{hospital_id}/dashboard-metrics",
    "GET /api/v1/hospitals/{hospital_id}/doctors",
    "DELETE /api/v1/hospitals/{hospital_id}/doctors/{doctor_id}/schedules/{schedule_id}",
    "PUT /api/v1/hospitals/{hospital_id}/services/{capability}",
}
DENIED = {401, 403}
#: Valid bodies for routes whose handler checks the caller, so a refusal is not hidden by a 422.
VALID_BODIES = {
    "POST /api/v1/crew/{token}/status": {"status": "en_route"},
    "POST /api/v1/emergency/cases/{case_id}/location": {"lat": 60.17, "lng": 24.94},
    "POST /api/v1/units/{unit_id}/position": {
        "lat": 60.17,
        "lng": 24.94,
        "recorded_at": "2026-11-25T12:00:00Z",
    },
    "PUT /api/v1/hospitals/{hospital_id}/capacity": {"ed_status": "open"},
    "PUT /api/v1/hospitals/{hospital_id}/services/{capability}": {"status": "available"},
}


def schema_routes(app: FastAPI) -> set[str]:
    """``METHOD /path`` of every operation in the OpenAPI schema."""
    return {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


def app_routes(app: FastAPI) -> set[str]:
    """Every API and web-page route, also those left out of the schema (pages, websockets)."""
    keys: set[str] = set()

    def walk(routes, prefix: str) -> None:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router
                walk(route.original_router.routes, prefix + (route.include_context.prefix or ""))
            elif isinstance(route, APIWebSocketRoute):
                keys.add(f"WS {prefix}{route.path}")
            elif isinstance(route, APIRoute):
                keys.update(f"{m} {prefix}{route.path}" for m in route.methods if m != "HEAD")

    walk(app.router.routes, "")
    return keys


def test_every_route_has_exactly_one_entry(app):
    routes = schema_routes(app) | app_routes(app)
    missing = routes - ROUTE_ACCESS.keys()
    assert not missing, f"add these to console_api.access.ROUTE_ACCESS: {sorted(missing)}"
    stale = ROUTE_ACCESS.keys() - routes
    assert not stale, f"entries for routes that no longer exist: {sorted(stale)}"


def test_the_role_matrix_is_the_one_we_reviewed():
    actual = {action: {r.value for r in roles} for action, roles in PERMISSIONS.items()}
    assert actual == EXPECTED_PERMISSIONS


def test_an_unregistered_route_refuses_everyone():
    claims = AccessClaims(
        user_id=uuid.uuid4(), roles=frozenset({"super_admin"}), hospital_id=None, mfa=True
    )
    with pytest.raises(Forbidden) as denied:
        check(None, claims, "GET /api/v1/brand-new")
    assert denied.value.code == "route_not_registered"


async def test_a_route_added_at_run_time_without_an_entry_is_refused(app, client, world):
    @app.get("/api/v1/probe-unregistered")
    async def probe() -> dict:
        return {"leak": True}

    try:
        for headers in ({}, world.super_admin.headers, world.operator.headers):
            r = await client.get("/api/v1/probe-unregistered", headers=headers)
            assert r.status_code == 403 and r.json()["code"] == "route_not_registered"
            assert "leak" not in r.text
    finally:
        app.router.routes[:] = [
            r for r in app.router.routes if getattr(r, "path", "") != "/api/v1/probe-unregistered"
        ]


def principals(world) -> dict[str, tuple[frozenset[str], dict[str, str]]]:
    """Name -> (roles, headers)."""
    return {
        "anonymous": (frozenset(), {}),
        "patient": (frozenset({"patient"}), world.patient.headers),
        "another_patient": (frozenset({"patient"}), world.other_patient.headers),
        "doctor": (frozenset({"doctor"}), world.doctor.headers),
        "hospital_admin": (frozenset({"hospital_admin"}), world.admin_h1.headers),
        "wrong_hospital_admin": (frozenset({"hospital_admin"}), world.admin_h2.headers),
        "emergency_operator": (frozenset({"emergency_operator"}), world.operator.headers),
        "super_admin": (frozenset({"super_admin"}), world.super_admin.headers),
    }


def expected_allowed(key: str, name: str, roles: frozenset[str]) -> bool:
    """What the route table and the object rules promise for this caller."""
    access = ROUTE_ACCESS[key]
    if key in CAPABILITY_ONLY:
        return False
    if access.action is None and not access.signed_in:
        return True
    if not roles:
        return False
    if access.action is not None and not (roles & EXPECTED_PERMISSIONS[access.action]):
        return False
    return not (key in HOSPITAL_SCOPED and name == "wrong_hospital_admin")


def concrete(path: str, world) -> str:
    """Fill path parameters: the first admin's hospital, random ids elsewhere (nothing changes)."""
    path = path.replace("{hospital_id}", str(world.h1))
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


async def test_every_route_for_every_principal(app, client, world):
    routes = sorted(schema_routes(app))
    failures = []
    for name, (roles, headers) in principals(world).items():
        for key in routes:
            method, path = key.split(" ", 1)
            allowed = expected_allowed(key, name, roles)
            # An invalid probe body: allowed callers get 4xx validation errors, never a change.
            body = VALID_BODIES.get(key) if not allowed else None
            kwargs = {"json": body or {"__probe__": 1}} if method in {"POST", "PUT"} else {}
            r = await client.request(method, concrete(path, world), headers=headers, **kwargs)
            if allowed and r.status_code in DENIED:
                failures.append(f"{name} was refused {key}: {r.status_code} {r.text[:120]}")
            if not allowed and r.status_code not in DENIED:
                failures.append(f"{name} was let into {key}: {r.status_code}")
            assert r.status_code < 500, f"{name} {key}: {r.status_code} {r.text[:200]}"
    assert not failures, "\n".join(failures)
