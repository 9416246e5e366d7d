"""My emergencies and who opened my records: an SOS raised while signed in shows in the patient
app with its status, and the dispatcher's read of the emergency summary is in the access log;
the app is usable with the keyboard alone."""

from __future__ import annotations

import uuid

from playwright.async_api import expect

from tests.conftest import PASSWORD
from tests.e2e.test_patient_app import (  # the clinic fixture: one doctor free all day
    DESKTOP,
    clinic,  # noqa: F401
    register,
    signed_in_page,
)
from tests.support.web import PHONE, bearer, shot


async def test_my_sos_and_who_read_my_summary_are_shown(api, accounts, new_context):
    email, patient = await register(api, "Bilal Ahmed")
    r = await api.post("/api/v1/patients/me/allergies", headers=patient,
                       json={"substance": "Latex", "severity": "severe"})
    assert r.status_code == 201, r.text
    key = {"Idempotency-Key": str(uuid.uuid4())}
    r = await api.post("/api/v1/emergency/cases", headers={**patient, **key},
                       json={"lat": 60.1699, "lng": 24.9384, "symptom_category": "chest_pain",
                             "reporter_phone": "+358409990077"})
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    operator = await bearer(api, accounts["emergency_operator"])
    summary = await api.get(f"/api/v1/emergency/cases/{case_id}/patient-summary",
                            headers=operator)
    assert summary.status_code == 200, summary.text

    page = await signed_in_page(new_context, email, viewport=PHONE, hash_="#emergencies")
    case = page.locator("#case-list li")
    await expect(case).to_have_count(1)
    await expect(case).to_contain_text("Chest pain")
    await expect(case.locator(".badge")).to_have_text("Received")
    await shot(page, "patient-emergencies-phone")

    triaged = await api.post(f"/api/v1/emergency/cases/{case_id}/triage", headers=operator,
                             json={"severity": "high"})
    assert triaged.status_code == 200, triaged.text
    await page.reload()
    await expect(page.locator("#case-list li .badge")).to_have_text("Assessed")

    await page.get_by_role("link", name="Records").click()
    row = page.locator("#access-log tr", has_text="emergency (SOS)")
    await expect(row.first).to_be_visible()
    await expect(row.first).to_contain_text("emergency summary")
    await shot(page, "patient-records-phone")


async def test_sign_in_search_and_book_with_the_keyboard_alone(
    api, clinic, new_context  # noqa: F811
):
    email, patient = await register(api)
    context = await new_context(viewport=DESKTOP)
    page = await context.new_page()
    await page.goto("/patient")
    await page.keyboard.press("Tab")
    await expect(page.get_by_text("Skip to content")).to_be_focused()
    await page.locator("#si-email").focus()
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.locator("#tabs")).to_be_visible()
    # From the top, Tab reaches SOS, the sections and the search, with a visible focus ring.
    await page.locator(".skip-link").focus()
    seen = []
    for _ in range(14):
        await page.keyboard.press("Tab")
        seen.append(await page.evaluate(
            "document.activeElement.id || document.activeElement.getAttribute('href')"
            " || document.activeElement.textContent.trim()"))
        if seen[-1] == "q-specialty":
            break
    assert "/sos" in seen and "#appointments" in seen and seen[-1] == "q-specialty", seen
    assert await page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    await page.keyboard.type(clinic.specialty)
    await page.keyboard.press("Enter")
    await expect(page.locator("#doctor-list li.doctor")).to_have_count(1)
    await page.locator("#doctor-list [data-slots]").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#doctor-list button.slot").first).to_be_visible()
    await page.keyboard.press("Tab")   # Join the waitlist
    await page.keyboard.press("Tab")   # the first free time
    start = await page.evaluate("document.activeElement.dataset.start")
    assert start
    await page.keyboard.press("Enter")
    await expect(page.locator("#appointment-list li.appointment")).to_have_count(1)
    mine = (await api.get("/api/v1/appointments/mine", headers=patient)).json()
    assert [a["start"] for a in mine] == [start]


async def test_a_freed_time_is_offered_to_the_waitlist_and_taken_in_the_page(
    api, clinic, new_context  # noqa: F811
):
    from tests.e2e.test_patient_app import book_by_api, free_slots

    _, holder = await register(api, "Slot Holder")
    held = await book_by_api(api, holder, clinic, (await free_slots(api, clinic))[30])
    email, waiting = await register(api, "Waiting Patient")
    page = await signed_in_page(new_context, email, viewport=PHONE)
    await page.get_by_label("Specialty").fill(clinic.specialty)
    await page.get_by_role("button", name="Search").click()
    # The page lists every doctor until the search answers: wait for the clinic's one.
    await expect(page.locator("#doctor-list li.doctor")).to_have_count(1)
    await page.get_by_role("button", name="Join the waitlist").click()
    await expect(page.locator("#notice")).to_contain_text("You are on the waitlist")
    r = await api.post(f"/api/v1/appointments/{held['id']}/cancel", headers=holder, json={})
    assert r.status_code == 200, r.text
    await page.get_by_role("link", name="My appointments").click()
    offer = page.locator("#waitlist-list li", has_text="A time was freed for you")
    await expect(offer).to_have_count(1, timeout=10_000)
    await shot(page, "patient-waitlist-offer-phone")
    await offer.get_by_role("button", name="Take this time").click()
    await expect(page.locator("#appointment-list li.appointment")).to_have_count(1)
    mine = (await api.get("/api/v1/appointments/mine", headers=waiting)).json()
    assert [a["start"] for a in mine] == [held["start"]]
