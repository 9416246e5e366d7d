"""The doctor portal (/doctor): availability switch with heartbeat, today's agenda, the chart and
record form for a booked patient, break-glass for anyone else (issue 25)."""

from __future__ import annotations

import asyncio
import time

from playwright.async_api import expect

from tests.support.axe import assert_no_serious_violations
from tests.support.care_setup import book_next, make_account, make_clinic, ok
from tests.support.web import PHONE, bearer, shot, sign_in_page

HELSINKI_TZ = "Europe/Helsinki"  # the clinic's wall clock: the page's "today" is the clinic's


async def doctor_page(new_context, clinic, *, clock: bool = False, **context_args):
    context_args.setdefault("viewport", {"width": 1100, "height": 900})
    context = await new_context(timezone_id=HELSINKI_TZ, locale="en-GB", **context_args)
    page = await context.new_page()
    if clock:
        await page.clock.install()  # the page's timers run when the test says so
    await page.goto("/doctor")
    await sign_in_page(page, clinic.doctor)
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    return page


async def live_state(api, clinic) -> str:
    return (await ok(await api.get(f"/api/v1/doctors/{clinic.doctor_id}")))["availability"]


async def test_doctor_toggles_availability_and_patients_see_it(api, new_context,
                                                               web_database_url):
    clinic = await make_clinic(api, web_database_url)
    page = await doctor_page(new_context, clinic, clock=True)
    switch = page.get_by_role("group", name="My availability")
    await expect(switch.get_by_label("Offline")).to_be_checked()
    await switch.get_by_label("Available").check()
    await expect(page.locator("#notice")).to_have_text("You are now Available.")
    # A patient's "available now" search shows the doctor within 2 s of the click.
    start = time.monotonic()
    while True:
        found = await ok(await api.get("/api/v1/doctors", params={"available_now": "true",
                                                                   "limit": 200}))
        if clinic.doctor_id in {d["id"] for d in found}:
            break
        assert time.monotonic() - start < 2, "not shown as available within 2 s"
        await asyncio.sleep(0.1)
    # While the page is open it beats every 30 s (the server forgets a doctor after 90 s).
    for _ in range(2):
        async with page.expect_request(lambda r: r.url.endswith("/doctors/me/heartbeat")
                                       and r.method == "POST") as beat:
            await page.clock.run_for(31_000)
        assert (await (await beat.value).response()).status == 200
    assert await live_state(api, clinic) == "available"
    await shot(page, "doctor-available")
    await switch.get_by_label("Busy").check()
    await expect(page.locator("#notice")).to_have_text("You are now Busy.")
    assert await live_state(api, clinic) == "busy"
    # Closing the page is going offline (a keepalive request sent on pagehide).
    await page.close()
    deadline = time.monotonic() + 5
    while await live_state(api, clinic) != "offline":
        assert time.monotonic() < deadline, "still shown busy after the page closed"
        await asyncio.sleep(0.2)


async def test_doctor_checks_in_and_records_a_visit(api, new_context, web_database_url):
    clinic = await make_clinic(api, web_database_url)
    patient, appointment, day = await book_next(api, web_database_url, clinic,
                                                name="Bilal Ahmed")
    page = await doctor_page(new_context, clinic)
    await page.locator("#agenda-date").fill(day)
    await page.locator("#agenda-date").dispatch_event("change")
    row = page.locator(f'li[data-appointment="{appointment["id"]}"]')
    await expect(row).to_contain_text("Bilal Ahmed")
    await expect(row.locator(".badge")).to_have_text("booked")
    await row.get_by_role("button", name="Check in").click()
    await expect(row.locator(".badge")).to_have_text("checked in")
    await expect(page.locator("#notice")).to_have_text("Bilal Ahmed checked in.")
    await row.get_by_role("button", name="Start visit").click()
    await expect(row.locator(".badge")).to_have_text("in the visit")
    await expect(row.get_by_role("button", name="Start visit")).to_have_count(0)
    chart = page.locator("#chart")
    await expect(chart.locator("#chart-title")).to_have_text("Chart: Bilal Ahmed")
    await expect(page.locator("#chart-glass")).to_be_hidden()
    await expect(page.get_by_label("Complaint")).to_be_focused()
    await page.get_by_label("Complaint").fill("Cough for three weeks")
    await page.get_by_label("Findings and plan").fill("Chest clear. Spirometry next week.")
    await page.get_by_role("button", name="Save entry").click()
    await expect(page.locator("#notice")).to_have_text("Visit note saved.")
    await expect(page.locator("#chart-records")).to_contain_text("Cough for three weeks")
    # A prescription too, through the same form.
    await page.get_by_label("Entry", exact=True).select_option("prescription")
    await page.get_by_label("Medicine").fill("Amoxicillin 500 mg")
    await page.get_by_label("Dose and frequency").fill("1 tablet three times a day")
    await page.get_by_role("button", name="Save entry").click()
    await expect(page.locator("#chart-records")).to_contain_text("Amoxicillin 500 mg")
    await shot(page, "doctor-visit")
    await row.get_by_role("button", name="Complete").click()
    await expect(row.locator(".badge")).to_have_text("completed")

    mine = await ok(await api.get("/api/v1/patients/me/records",
                                  headers=await bearer(api, patient)))
    kinds = {r["record_type"]: r["payload"] for r in mine["records"]}
    assert kinds["visit"]["complaint"] == "Cough for three weeks"
    assert kinds["prescription"]["drug"] == "Amoxicillin 500 mg"
    done = await ok(await api.get(f"/api/v1/appointments/{appointment['id']}",
                                  headers=await bearer(api, patient)))
    assert done["status"] == "completed" and done["checked_in_at"]
    assert done["checked_in_at"] <= done["started_at"] <= done["completed_at"]


async def test_break_glass_is_marked_and_audited(api, new_context, web_database_url):
    clinic = await make_clinic(api, web_database_url)
    stranger = await make_account(web_database_url, "patient", full_name="Zara Malik")
    ph = await bearer(api, stranger)
    await ok(await api.post("/api/v1/patients/me/allergies", headers=ph, json={
        "substance": "penicillin", "reaction": "anaphylaxis", "severity": "severe"}), 201)
    page = await doctor_page(new_context, clinic)
    # Without a relationship the chart is refused; break-glass needs a real reason.
    glass = page.get_by_role("region", name="Break-glass: open another patient's chart")
    await glass.get_by_label("Patient ID").fill(str(stranger.patient_id))
    await glass.get_by_label("Reason").fill("emergencies")  # long enough, but one word
    await glass.get_by_role("button", name="Break glass and open").click()
    await expect(page.locator("#notice")).to_contain_text("break-glass reason")
    await expect(page.locator("#chart")).to_be_hidden()
    reason = "Unconscious in ED, allergy check before antibiotics"
    await glass.get_by_label("Reason").fill(reason)
    await glass.get_by_role("button", name="Break glass and open").click()
    banner = page.locator("#chart-glass")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("BREAK-GLASS ACCESS")
    await expect(banner).to_contain_text(reason)
    await expect(page.locator("#chart-allergies")).to_contain_text("penicillin")
    await expect(page.locator("#record-form")).to_be_hidden()  # read-only: no relationship
    await shot(page, "doctor-break-glass")

    log = await ok(await api.get(f"/api/v1/patients/{stranger.patient_id}/access-log",
                                 headers=ph))
    flagged = [e for e in log if e["flagged"]]
    assert [(e["basis"], e["reason"]) for e in flagged] == [("break_glass", reason)]
    assert str(clinic.doctor.user_id) in flagged[0]["actor"]
    # The tamper-evident audit trail holds the priority row too (super admin's view).
    trail = await ok(await api.get("/api/v1/audit",
                                   params={"patient_id": str(stranger.patient_id)},
                                   headers=await bearer(api, clinic.root)))
    glass_rows = [r for r in trail if r["priority"]]
    assert glass_rows and glass_rows[0]["purpose"] == f"break-glass: {reason}", trail


async def test_keyboard_only_availability_and_check_in(api, new_context, web_database_url):
    clinic = await make_clinic(api, web_database_url)
    _, appointment, day = await book_next(api, web_database_url, clinic, name="Omar Farooq")
    page = await doctor_page(new_context, clinic, viewport=PHONE, is_mobile=True)
    await page.locator("#agenda-date").fill(day)
    await page.locator("#agenda-date").dispatch_event("change")
    row = page.locator(f'li[data-appointment="{appointment["id"]}"]')
    await expect(row).to_contain_text("Omar Farooq")
    await page.locator("body").focus()

    async def tab_to(predicate: str, limit: int = 40) -> None:
        for _ in range(limit):
            await page.keyboard.press("Tab")
            script = f"() => {{ const el = document.activeElement; return {predicate}; }}"
            if await page.evaluate(script):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    # Radio group: Tab lands on the checked option, arrows move (and announce) the state.
    await tab_to("el.name === 'state'")
    await page.keyboard.press("ArrowLeft")   # offline -> busy
    await expect(page.locator("#notice")).to_have_text("You are now Busy.")
    await page.keyboard.press("ArrowLeft")   # busy -> available
    await expect(page.locator("#notice")).to_have_text("You are now Available.")
    assert await live_state(api, clinic) == "available"
    await tab_to("el.dataset.act === 'check_in'")
    await page.keyboard.press("Enter")
    await expect(row.locator(".badge")).to_have_text("checked in")
    # Focus stays in the row so the next action is one Tab away.
    assert await page.evaluate("() => Boolean(document.activeElement.closest('#agenda'))")
    await shot(page, "doctor-keyboard-phone")


async def test_doctor_removes_and_adds_a_weekly_line(api, new_context, web_database_url):
    clinic = await make_clinic(api, web_database_url)
    page = await doctor_page(new_context, clinic)
    week = page.locator("#week")
    await expect(week.locator("[data-remove-line]")).to_have_count(7)
    # Wednesday (weekday 2) is all day; remove it, then add a morning in its place.
    await week.get_by_role("button", name="Remove Wednesday 00:00–23:45").click()
    await expect(page.locator("#notice")).to_have_text("Line removed; booked appointments stay.")
    await expect(week.locator("[data-remove-line]")).to_have_count(6)
    form = page.locator("#week-add")
    await form.get_by_label("Day").select_option("2")
    await form.get_by_label("From").fill("09:00")
    await form.get_by_label("Until").fill("12:00")
    await form.get_by_label("Slot").fill("20")
    await form.get_by_role("button", name="Add line").click()
    await expect(page.locator("#notice")).to_have_text("Line added.")
    await expect(week).to_contain_text("09:00–12:00")
    me = await ok(await api.get("/api/v1/doctors/me", headers=await bearer(api, clinic.doctor)))
    assert {(s["weekday"], s["start_time"], s["slot_minutes"]) for s in me["schedules"]
            if s["weekday"] == 2} == {(2, "09:00", 20)}

    await assert_no_serious_violations(page)
    await shot(page, "doctor-week")
    phone = await doctor_page(new_context, clinic, viewport=PHONE, is_mobile=True)
    await phone.locator("#week-add").scroll_into_view_if_needed()
    await shot(phone, "doctor-week-phone")
