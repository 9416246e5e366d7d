"""A small world for the security tests: two hospitals, one admin each, patients, staff, cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest_asyncio

from tests.conftest import SignedIn, add_unit, sign_in, sos_body

CASES = "/api/v1/emergency/cases"


@dataclass(frozen=True)
class World:
    """Principals and objects shared by the security tests (created once per run)."""

    h1: uuid.UUID
    h2: uuid.UUID
    patient: SignedIn
    other_patient: SignedIn
    doctor: SignedIn
    admin_h1: SignedIn
    admin_h2: SignedIn
    operator: SignedIn
    super_admin: SignedIn
    bound_case: dict  # dispatched to h1
    patient_case: dict  # raised by ``patient`` while signed in


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def world(app, client) -> World:
    """Build the world through the API, as real callers would."""
    operator = await sign_in(app, client, "emergency_operator")
    case = (
        await client.post(CASES, json=sos_body(), headers={"Idempotency-Key": uuid.uuid4().hex})
    ).json()
    url = f"{CASES}/{case['id']}"
    r = await client.post(f"{url}/triage", json={"severity": "high"}, headers=operator.headers)
    assert r.status_code == 200, r.text
    await add_unit(client, operator.headers)
    bound = await client.post(f"{url}/dispatch", headers=operator.headers)
    assert bound.status_code == 200, bound.text
    h1 = uuid.UUID(bound.json()["destination_hospital_id"])
    hospitals = (await client.get("/api/v1/hospitals")).json()
    h2 = next(uuid.UUID(h["id"]) for h in hospitals if uuid.UUID(h["id"]) != h1)
    patient = await sign_in(app, client, "patient")
    own = await client.post(CASES, json=sos_body(notes="my own case"), headers=patient.headers)
    assert own.status_code == 201, own.text
    return World(
        h1=h1,
        h2=h2,
        patient=patient,
        other_patient=await sign_in(app, client, "patient"),
        doctor=await sign_in(app, client, "doctor", hospital_id=h2),
        admin_h1=await sign_in(app, client, "hospital_admin", hospital_id=h1),
        admin_h2=await sign_in(app, client, "hospital_admin", hospital_id=h2),
        operator=operator,
        super_admin=await sign_in(app, client, "super_admin"),
        bound_case=bound.json(),
        patient_case=own.json(),
    )
