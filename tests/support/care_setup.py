"""Care accounts for the doctor-portal and hospital-admin page tests: a hospital with its own
admin, a doctor (profile, department, weekly schedule), a super admin, and booked patients."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pyotp

from tests.conftest import PASSWORD
from tests.support.web import Account, bearer

ZONE = ZoneInfo("Europe/Helsinki")  # LIFELINE_CARE_TIMEZONE's default: the clinic's wall clock


async def make_account(url: str, role: str, *, hospital_id=None, full_name: str | None = None
                       ) -> Account:
    """A user of ``role``; staff enrolled in TOTP with recovery codes; patients with a profile."""
    from data.db import async_session_factory, make_async_engine
    from data.models import import_all_models
    from data.settings import DataSettings
    from identity import mfa
    from identity import service as identity_service
    from identity.models import Patient, User
    from identity.roles import is_staff

    import_all_models()
    engine = make_async_engine(DataSettings(DATABASE_URL=url))
    email = f"{role}-{uuid.uuid4().hex[:6]}@lifeline.test"
    secret = pyotp.random_base32(length=32) if is_staff({role}) else None
    codes: list[str] = []
    patient_id = None
    try:
        async with async_session_factory(engine)() as session:
            user = await identity_service.create_user(
                db_session=session, email=email, password=PASSWORD, roles=[role],
                hospital_id=hospital_id)
        async with async_session_factory(engine)() as session:
            if secret:
                _, codes = await mfa.start_enrolment(
                    db_session=session, user=await session.get(User, user.id), secret=secret,
                    activate=True)
            if role == "patient":
                patient = Patient(user_id=user.id, full_name=full_name or "Sana Iqbal",
                                  blood_group="B+")
                session.add(patient)
                await session.flush()
                patient_id = patient.id
            await session.commit()
    finally:
        await engine.dispose()
    return Account(email, user.id, hospital_id=hospital_id, patient_id=patient_id,
                   totp_secret=secret, recovery_codes=codes)


@dataclass
class Clinic:
    """A hospital, its admin and department, a super admin and one scheduled doctor."""

    hospital_id: str
    hospital_name: str
    admin: Account
    root: Account
    department_id: str
    doctor: Account
    doctor_id: str


async def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def make_clinic(api: httpx.AsyncClient, url: str, *, hospital_index: int = -1,
                      accepted: bool = True, attached: bool = True) -> Clinic:
    """Everything through the API, as the admin and super admin would do it."""
    hospitals = (await api.get("/api/v1/hospitals", params={"limit": 50})).json()
    hospital = sorted(hospitals, key=lambda h: h["name"])[hospital_index]
    admin = await make_account(url, "hospital_admin", hospital_id=uuid.UUID(hospital["id"]))
    root = await make_account(url, "super_admin")
    doctor = await make_account(url, "doctor")
    h = await bearer(api, admin)
    department = await ok(await api.post(
        f"/api/v1/hospitals/{hospital['id']}/departments",
        json={"name": f"General practice {uuid.uuid4().hex[:4]}"}, headers=h), 201)
    profile = await ok(await api.post("/api/v1/doctors", headers=h, json={
        "full_name": f"Dr. Ayesha Khan {uuid.uuid4().hex[:4]}",
        "license_no": f"PK-{uuid.uuid4().hex[:10]}", "specialty": "General practice",
        "languages": ["ur", "en"], "user_id": str(doctor.user_id)}), 201)
    await ok(await api.post(f"/api/v1/doctors/{profile['id']}/verify",
                            headers=await bearer(api, root)))
    clinic = Clinic(hospital["id"], hospital["name"], admin, root, department["id"], doctor,
                    profile["id"])
    if attached:
        await attach_and_schedule(api, clinic, accepted=accepted)
    return clinic


async def attach_and_schedule(api: httpx.AsyncClient, clinic: Clinic, *, accepted: bool) -> None:
    h = await bearer(api, clinic.admin)
    await ok(await api.post(f"/api/v1/hospitals/{clinic.hospital_id}/doctors", headers=h, json={
        "doctor_id": clinic.doctor_id, "department_id": clinic.department_id,
        "is_primary": True}), 201)
    if accepted:
        await ok(await api.post(f"/api/v1/doctors/me/affiliations/{clinic.hospital_id}/accept",
                                headers=await bearer(api, clinic.doctor)))
    for weekday in range(7):
        await ok(await api.post(
            f"/api/v1/hospitals/{clinic.hospital_id}/doctors/{clinic.doctor_id}/schedules",
            headers=h, json={"weekday": weekday, "start_time": "00:00", "end_time": "23:45",
                             "slot_minutes": 15}), 201)


async def book_next(api: httpx.AsyncClient, url: str, clinic: Clinic, *, name: str,
                    skip: int = 0) -> tuple[Account, dict, str]:
    """A new patient books the doctor's next free slot; returns them, it and its local date."""
    patient = await make_account(url, "patient", full_name=name)
    slots = await ok(await api.get(f"/api/v1/doctors/{clinic.doctor_id}/slots"))
    slot = slots[skip]
    appointment = await ok(await api.post(
        "/api/v1/appointments",
        headers={**await bearer(api, patient), "Idempotency-Key": str(uuid.uuid4())},
        json={"doctor_id": clinic.doctor_id, "hospital_id": clinic.hospital_id,
              "start": slot["start"], "reason": "Persistent cough"}), 201)
    day = datetime.fromisoformat(slot["start"]).astimezone(ZONE).date().isoformat()
    return patient, appointment, day
