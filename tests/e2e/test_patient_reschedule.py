"""The patient confirms and changes the time of an appointment from /patient (issue 25), and
sees their queue place move up live when the doctor starts the visit of the patient ahead."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.test_patient_app import (  # the clinic fixture: one doctor free all day
    book_by_api,
    clinic,  # noqa: F401
    desk_does,
    free_slots,
    register,
    signed_in_page,
)
from tests.support.axe import assert_no_serious_violations
from tests.support.web import PHONE, shot


async def mine(api, patient) -> dict[str, dict]:
    return {a["id"]: a for a in (await api.get("/api/v1/appointments/mine",
                                               headers=patient)).json()}


async def test_confirm_then_change_the_time(api, clinic, new_context):  # noqa: F811
    email, patient = await register(api)
    slots = await free_slots(api, clinic)
    first = await book_by_api(api, patient, clinic, slots[20])
    page = await signed_in_page(new_context, email, hash_="#appointments")
    card = page.locator(f'[data-appointment-id="{first["id"]}"]')
    await expect(card.locator("[data-status]")).to_have_text("Booked")

    await card.get_by_role("button", name="Confirm I'm coming").click()
    await expect(page.locator("#notice")).to_have_text("Appointment confirmed.")
    await expect(card.locator("[data-status]")).to_have_text("Confirmed")
    await expect(card.get_by_role("button", name="Confirm I'm coming")).to_have_count(0)
    assert (await mine(api, patient))[first["id"]]["status"] == "confirmed"

    change = card.get_by_role("button", name="Change time")
    await change.click()
    await expect(change).to_have_attribute("aria-expanded", "true")
    moves = card.locator("button[data-move]")
    await expect(moves.first).to_be_visible(timeout=15_000)  # two reads: doctor and slots
    await expect(moves.first).to_be_focused()  # the keyboard lands on the first free time
    assert first["start"] not in [await b.get_attribute("data-start") for b in await moves.all()]
    await assert_no_serious_violations(page)
    await shot(page, "patient-reschedule-en-desktop")
    target = moves.nth(2)
    new_start = await target.get_attribute("data-start")
    await target.click()
    await expect(page.locator("#notice")).to_contain_text("Moved to")
    await expect(card.locator("[data-status]")).to_have_text("Moved")
    after = await mine(api, patient)
    assert after[first["id"]]["status"] == "rescheduled"
    [new] = [a for a in after.values() if a["rescheduled_from_id"] == first["id"]]
    assert new["status"] == "booked" and new["start"] == new_start
    new_card = page.locator(f'[data-appointment-id="{new["id"]}"]')
    await expect(new_card.locator("[data-status]")).to_have_text("Booked")
    await expect(new_card.get_by_role("button", name="Confirm I'm coming")).to_be_focused()
    # A moved appointment offers nothing more.
    await expect(card.locator("button")).to_have_count(0)


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_change_time_in_urdu(api, clinic, new_context, size):  # noqa: F811
    email, patient = await register(api)
    slot = (await free_slots(api, clinic))[30 + (size == "phone")]
    made = await book_by_api(api, patient, clinic, slot)
    viewport = PHONE if size == "phone" else {"width": 1280, "height": 860}
    page = await signed_in_page(new_context, email, viewport=viewport, hash_="#appointments")
    await page.get_by_label("Language / زبان / Idioma").select_option("ur")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    card = page.locator(f'[data-appointment-id="{made["id"]}"]')
    await expect(card.get_by_role("button", name="آنے کی تصدیق کریں")).to_be_visible()
    await card.get_by_role("button", name="وقت تبدیل کریں").click()
    await expect(card.locator("button[data-move]").first).to_be_visible(timeout=15_000)
    await assert_no_serious_violations(page)
    await shot(page, f"patient-reschedule-ur-{size}")
    if size == "phone":
        await page.get_by_label("Language / زبان / Idioma").select_option("en")
        await expect(card.locator("button[data-move]").first).to_be_visible(timeout=15_000)
        await shot(page, "patient-reschedule-en-phone")


async def test_queue_moves_up_live_when_the_doctor_starts_the_visit_ahead(
    api, clinic, new_context  # noqa: F811
):
    email, patient = await register(api)
    _, other_patient = await register(api, "Other Patient")
    slots = await free_slots(api, clinic)
    other = await book_by_api(api, other_patient, clinic, slots[40])
    me = await book_by_api(api, patient, clinic, slots[41])
    await desk_does(api, clinic, other["id"], "check-in")
    await desk_does(api, clinic, me["id"], "check-in")
    page = await signed_in_page(new_context, email, hash_="#appointments")
    queue = page.locator(f'[data-queue="{me["id"]}"]')
    await expect(queue).to_have_text("You are number 2 in the queue (1 ahead of you).")
    r = await api.post(f"/api/v1/appointments/{other['id']}/start", headers=clinic.doctor)
    assert r.status_code == 200 and r.json()["status"] == "in_progress", r.text
    # Live: no reload; the queue event of the start makes the page read its place again.
    await expect(queue).to_have_text("You are next (1 in the queue).", timeout=5_000)
