"""The patient app (/patient, issue 25) in Chromium against a real server: sign-up, search with
live availability, booking with a live queue position, cancel, and the screens in every language.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import httpx
import pyotp
import pytest_asyncio
from playwright.async_api import Page, expect

from tests.conftest import PASSWORD, distinct_client
from tests.support.web import HELSINKI, PHONE, Account, bearer, shot

DESKTOP = {"width": 1280, "height": 860}


@dataclass(frozen=True)
class Clinic:
    """A demo hospital with its desk (admin), a scheduled, verified doctor who accepted."""

    hospital_id: str
    doctor_id: str
    specialty: str
    desk: dict[str, str]
    doctor: dict[str, str]


async def staff(url: str, role: str, hospital_id: uuid.UUID | None = None) -> Account:
    """A staff user with TOTP enrolled, created the way the CLI provisions them."""
    from data.db import async_session_factory, make_async_engine
    from data.settings import DataSettings
    from identity import service as identity_service

    secret = pyotp.random_base32(length=32)
    engine = make_async_engine(DataSettings(DATABASE_URL=url))
    try:
        async with async_session_factory(engine)() as session:
            user = await identity_service.create_user(
                db_session=session, email=f"{role}-{uuid.uuid4().hex[:6]}@lifeline.test",
                password=PASSWORD, roles=[role], hospital_id=hospital_id, totp_secret=secret,
            )
    finally:
        await engine.dispose()
    return Account(user.email, user.id, totp_secret=secret)


async def make_clinic(api: httpx.AsyncClient, url: str, *, specialty: str) -> Clinic:
    """Everything through the API, as a hospital admin and the doctor would do it."""
    hospitals = (await api.get("/api/v1/hospitals")).json()
    hospital_id = hospitals[0]["id"]
    desk = await bearer(api, await staff(url, "hospital_admin", uuid.UUID(hospital_id)))
    doctor_account = await staff(url, "doctor")
    doctor = await bearer(api, doctor_account)
    root = await bearer(api, await staff(url, "super_admin"))
    r = await api.post(f"/api/v1/hospitals/{hospital_id}/departments", headers=desk,
                       json={"name": specialty})
    assert r.status_code == 201, r.text
    department_id = r.json()["id"]
    r = await api.post("/api/v1/doctors", headers=desk, json={
        "full_name": f"Dr. Ayesha {uuid.uuid4().hex[:4]}",
        "license_no": f"FI-{uuid.uuid4().hex[:10]}",
        "specialty": specialty, "languages": ["en", "ur"], "user_id": str(doctor_account.user_id),
    })
    assert r.status_code == 201, r.text
    doctor_id = r.json()["id"]
    for path, body, who in (
        (f"/api/v1/hospitals/{hospital_id}/doctors",
         {"doctor_id": doctor_id, "department_id": department_id, "is_primary": True}, desk),
        (f"/api/v1/doctors/{doctor_id}/verify", None, root),
        (f"/api/v1/doctors/me/affiliations/{hospital_id}/accept", None, doctor),
    ):
        r = await api.post(path, json=body, headers=who)
        assert r.status_code in (200, 201), r.text
    for weekday in range(7):
        r = await api.post(
            f"/api/v1/hospitals/{hospital_id}/doctors/{doctor_id}/schedules", headers=desk,
            json={"weekday": weekday, "start_time": "00:00", "end_time": "23:45",
                  "slot_minutes": 15},
        )
        assert r.status_code == 201, r.text
    return Clinic(hospital_id, doctor_id, specialty, desk, doctor)


async def register(api: httpx.AsyncClient, name: str = "Sana Iqbal") -> tuple[str, dict]:
    """A patient account made through the sign-up API; its email and bearer header."""
    email = f"patient-{uuid.uuid4().hex[:8]}@lifeline.test"
    async with distinct_client(api) as own:
        r = await own.post("/api/v1/auth/register",
                           json={"email": email, "password": PASSWORD, "full_name": name})
    assert r.status_code == 201, r.text
    return email, {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clinic(api, web_server, web_database_url) -> Clinic:
    """One clinic for this module's tests (each books different slots)."""
    return await make_clinic(api, web_database_url, specialty=f"Cardiology {uuid.uuid4().hex[:4]}")


async def signed_in_page(new_context, email: str, *, viewport=DESKTOP, locale="en-US",
                         hash_: str = "#doctors") -> Page:
    """A patient signed in through the page's own form."""
    context = await new_context(viewport=viewport, locale=locale, geolocation=HELSINKI,
                                permissions=["geolocation"], is_mobile=viewport == PHONE)
    page = await context.new_page()
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(f"/patient{hash_}")
    form = page.locator("#signin")
    await form.locator("input[name=email]").fill(email)
    await form.locator("input[name=password]").fill(PASSWORD)
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#tabs")).to_be_visible()
    return page


async def test_sign_up_in_the_page_then_fill_the_emergency_profile(api, new_context):
    context = await new_context(viewport=PHONE, is_mobile=True)
    page = await context.new_page()
    await page.goto("/patient")
    await shot(page, "patient-signin-phone")
    form = page.locator("#signup")
    await form.get_by_label("Full name").fill("Sana Iqbal")
    await form.get_by_label("Email").fill(f"sana-{uuid.uuid4().hex[:6]}@lifeline.test")
    # A refusal is told in the page's words (by its code), then corrected.
    await form.get_by_label("Password").fill("aaaaaaaaaaaaaaaa")
    await form.get_by_role("button", name="Create account").click()
    await expect(form.locator(".form-error")).to_have_text(
        "this password is on a list of breached passwords: choose a longer phrase")
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_role("button", name="Create account").click()
    await expect(page.locator("#profile")).to_be_visible()
    await expect(page.locator("#p-name")).to_have_value("Sana Iqbal")
    await page.get_by_label("Blood group").select_option("O-")
    await page.locator("#profile-form button[type=submit]").click()
    await expect(page.locator("#notice")).to_have_text("Saved.")
    await page.locator("#c-name").fill("Imran Iqbal")
    await page.locator("#c-rel").fill("brother")
    await page.locator("#c-phone").fill("+358401234567")
    await page.locator("#contact-form button[type=submit]").click()
    await expect(page.locator("#contact-list")).to_contain_text("Imran Iqbal")
    await page.locator("#a-substance").fill("Penicillin")
    await page.locator("#a-severity").select_option("severe")
    await page.locator("#allergy-form button[type=submit]").click()
    await expect(page.locator("#allergy-list")).to_contain_text("Penicillin — severe")
    await page.locator("#k-name").fill("Asthma")
    await page.locator("#condition-form button[type=submit]").click()
    await expect(page.locator("#condition-list")).to_contain_text("Asthma")
    # SOS is one tap away on this screen too.
    await expect(page.get_by_role("link", name="SOS: ask for an ambulance now")).to_be_visible()
    await shot(page, "patient-profile-phone")


async def free_slots(api: httpx.AsyncClient, clinic: Clinic) -> list[dict]:
    r = await api.get(f"/api/v1/doctors/{clinic.doctor_id}/slots")
    assert r.status_code == 200, r.text
    return r.json()


async def book_by_api(api, headers, clinic: Clinic, slot: dict) -> dict:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    r = await api.post("/api/v1/appointments", headers={**headers, **key},
                       json={"doctor_id": clinic.doctor_id, "hospital_id": slot["hospital_id"],
                             "start": slot["start"]})
    assert r.status_code == 201, r.text
    return r.json()


async def desk_does(api, clinic: Clinic, appointment_id: str, action: str) -> None:
    r = await api.post(f"/api/v1/appointments/{appointment_id}/{action}", headers=clinic.desk)
    assert r.status_code == 200, r.text


async def search_clinic(page: Page, clinic: Clinic) -> None:
    await page.get_by_label("Specialty").fill(clinic.specialty)
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#doctor-list li.doctor")).to_have_count(1)


async def test_book_follow_the_queue_live_then_cancel(api, clinic, new_context):
    email, patient = await register(api)
    page = await signed_in_page(new_context, email)
    await search_clinic(page, clinic)
    await page.get_by_role("button", name="Free times").click()
    slots = page.locator("#doctor-list button.slot")
    await expect(slots.first).to_be_visible()
    await shot(page, "patient-doctors-desktop")
    await slots.first.click()
    await expect(page.locator("#appointments")).to_be_visible()
    mine_item = page.locator("#appointment-list li.appointment")
    await expect(mine_item).to_have_count(1)
    await expect(mine_item.locator("[data-status]")).to_have_text("Booked")
    (mine,) = (await api.get("/api/v1/appointments/mine", headers=patient)).json()

    # Someone else is booked the next slot of the same doctor and checked in first.
    _, other_patient = await register(api, "Other Patient")
    taken = {mine["start"]}
    slot = next(s for s in await free_slots(api, clinic) if s["start"] not in taken)
    other = await book_by_api(api, other_patient, clinic, slot)
    await desk_does(api, clinic, other["id"], "check-in")
    await desk_does(api, clinic, mine["id"], "check-in")
    queue = page.locator(f'[data-queue="{mine["id"]}"]')
    # Live: the page is not reloaded; the queue event makes it read its place again.
    await expect(queue).to_have_text("You are number 2 in the queue (1 ahead of you).")
    await shot(page, "patient-queue-desktop")
    started = time.monotonic()
    await desk_does(api, clinic, other["id"], "complete")
    await expect(queue).to_have_text("You are next (1 in the queue).", timeout=5_000)
    print(f"queue update shown {time.monotonic() - started:.2f} s after the API call")

    # Book a second time, then cancel it from the page.
    await page.get_by_role("link", name="Find a doctor").click()
    await page.get_by_role("button", name="Free times").click()
    await slots.nth(2).click()
    await expect(page.locator("#appointment-list li.appointment")).to_have_count(2)
    booked = page.locator("#appointment-list li.appointment",
                          has=page.locator('[data-status="booked"]'))
    await booked.get_by_role("button", name="Cancel appointment").click()
    await expect(page.locator("#notice")).to_have_text("Appointment cancelled.")
    await expect(page.locator('#appointment-list [data-status="cancelled"]')).to_have_count(1)
    statuses = sorted(a["status"] for a in
                      (await api.get("/api/v1/appointments/mine", headers=patient)).json())
    assert statuses == ["cancelled", "checked_in"]


async def test_doctor_availability_reaches_the_search_within_2_s(api, clinic, new_context):
    email, _ = await register(api)
    page = await signed_in_page(new_context, email)
    await expect(page.locator("#live")).to_have_text("live")
    await search_clinic(page, clinic)
    badge = page.locator("#doctor-list li.doctor [data-state]")
    for state, shown in (("available", "Available now"), ("busy", "Busy")):
        started = time.monotonic()
        r = await api.put("/api/v1/doctors/me/availability", headers=clinic.doctor,
                          json={"state": state})
        assert r.status_code == 200, r.text
        await expect(badge).to_have_text(shown, timeout=2_000)
        print(f"{state}: shown {time.monotonic() - started:.2f} s after the doctor's PUT")
    # "Available now" narrows the search, and a doctor who becomes available appears in it.
    await page.get_by_label("Available now").check()
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#doctor-list li.doctor")).to_have_count(0)
    started = time.monotonic()
    await api.put("/api/v1/doctors/me/availability", headers=clinic.doctor,
                  json={"state": "available"})
    await expect(page.locator("#doctor-list li.doctor")).to_have_count(1, timeout=2_000)
    print(f"appeared in 'available now' {time.monotonic() - started:.2f} s after the PUT")
