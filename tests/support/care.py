"""Care fixtures: a clinic (admin, department, doctor with an all-day schedule) and patients."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest_asyncio
from sqlalchemy import select

from facilities.models import Hospital
from facilities.regions import DEMO_REGION
from tests.conftest import SignedIn, random_phone, sign_in


@dataclass(frozen=True)
class Clinic:
    """A hospital with its admin, a department and one scheduled doctor."""

    hospital_id: str
    admin: SignedIn
    department_id: str
    doctor_id: str
    doctor: SignedIn


@dataclass(frozen=True)
class PatientUser:
    """A signed-in patient with a profile."""

    user: SignedIn
    patient_id: str
    phone: str

    @property
    def headers(self) -> dict[str, str]:
        return self.user.headers


async def demo_hospitals(app) -> list[uuid.UUID]:
    """Ids of the demo region's hospitals."""
    async with app.state.session_factory() as session:
        # Other tests import regions of their own into the same database: the demo's only.
        return list(await session.scalars(
            select(Hospital.id).where(Hospital.region == DEMO_REGION).order_by(Hospital.name)))


async def make_clinic(
    app, client, *, hospital_index: int = 0, slot_minutes: int = 15, verified: bool = True,
    accepted: bool = True,
) -> Clinic:
    """Everything a patient needs to book, created through the API: by default the doctor is
    verified and has accepted the affiliation (what a treatment relationship needs)."""
    hospital_id = str((await demo_hospitals(app))[hospital_index])
    admin = await sign_in(app, client, "hospital_admin", hospital_id=uuid.UUID(hospital_id))
    doctor_user = await sign_in(app, client, "doctor")
    h = admin.headers
    r = await client.post(f"/api/v1/hospitals/{hospital_id}/departments",
                          json={"name": "General practice"}, headers=h)
    assert r.status_code == 201, r.text
    department_id = r.json()["id"]
    r = await client.post("/api/v1/doctors", headers=h, json={
        "full_name": f"Dr. {uuid.uuid4().hex[:6]}", "license_no": f"FI-{uuid.uuid4().hex[:10]}",
        "specialty": "General practice", "languages": ["fi", "en"], "years_experience": 12,
        "consultation_fee": "45.00", "user_id": str(doctor_user.user_id),
    })
    assert r.status_code == 201, r.text
    doctor_id = r.json()["id"]
    r = await client.post(f"/api/v1/hospitals/{hospital_id}/doctors", headers=h,
                          json={"doctor_id": doctor_id, "department_id": department_id,
                                "is_primary": True})
    assert r.status_code == 201, r.text
    if verified:
        root = await sign_in(app, client, "super_admin")
        r = await client.post(f"/api/v1/doctors/{doctor_id}/verify", headers=root.headers)
        assert r.status_code == 200, r.text
    if accepted:
        r = await client.post(f"/api/v1/doctors/me/affiliations/{hospital_id}/accept",
                              headers=doctor_user.headers)
        assert r.status_code == 200, r.text
    for weekday in range(7):
        r = await client.post(
            f"/api/v1/hospitals/{hospital_id}/doctors/{doctor_id}/schedules", headers=h,
            json={"weekday": weekday, "start_time": "00:00", "end_time": "23:45",
                  "slot_minutes": slot_minutes},
        )
        assert r.status_code == 201, r.text
    return Clinic(hospital_id, admin, department_id, doctor_id, doctor_user)


async def make_patient(app, client, *, name: str = "Aino Virtanen") -> PatientUser:
    """A patient user with a profile (and a phone for reminders)."""
    user = await sign_in(app, client, "patient")
    phone = random_phone()
    r = await client.put("/api/v1/patients/me/profile", headers=user.headers, json={
        "full_name": name, "dob": "1980-05-17", "gender": "female", "blood_group": "O-",
        "city": "Helsinki", "phone": phone,
    })
    assert r.status_code == 200, r.text
    return PatientUser(user, r.json()["id"], phone)


async def free_slots(client, clinic: Clinic, *, days_ahead: int = 2) -> list[dict]:
    """Free slots of the clinic's doctor starting ``days_ahead`` days from now."""
    from datetime import timedelta

    from data.base import utcnow

    start = utcnow() + timedelta(days=days_ahead)
    r = await client.get(f"/api/v1/doctors/{clinic.doctor_id}/slots",
                         params={"from": start.isoformat(),
                                 "to": (start + timedelta(days=1)).isoformat()})
    assert r.status_code == 200, r.text
    return r.json()


@pytest_asyncio.fixture(loop_scope="session")
async def clinic(app, client) -> Clinic:
    """A fresh clinic per test, so tests never share a doctor's slots."""
    return await make_clinic(app, client)


@pytest_asyncio.fixture(loop_scope="session")
async def patient(app, client) -> PatientUser:
    """A fresh patient per test."""
    return await make_patient(app, client)
