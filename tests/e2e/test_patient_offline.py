"""The patient app offline: what was last loaded still reads after a reload without a network,
and a booking made offline is delivered once, retried with the same Idempotency-Key."""

from __future__ import annotations

from playwright.async_api import Route, expect

from tests.e2e.test_patient_app import (  # the clinic fixture: one doctor free all day
    book_by_api,
    clinic,  # noqa: F401
    free_slots,
    register,
    search_clinic,
    signed_in_page,
)
from tests.support.web import PHONE, shot


async def test_reading_offline_and_a_booking_queued_offline_is_made_once(
    api, clinic, new_context  # noqa: F811
):
    email, patient = await register(api)
    first = (await free_slots(api, clinic))[5]
    await book_by_api(api, patient, clinic, first)
    page = await signed_in_page(new_context, email, viewport=PHONE, hash_="#appointments")
    await expect(page.locator("#appointment-list li.appointment")).to_have_count(1)
    await page.get_by_role("link", name="Records").click()
    await expect(page.locator("#access-log tr")).not_to_have_count(0)
    await page.get_by_role("link", name="Find a doctor").click()
    await search_clinic(page, clinic)
    await page.get_by_role("button", name="Free times").click()
    await expect(page.locator("#doctor-list button.slot").first).to_be_visible()
    # Installed: the shared service worker serves the app's own files without a network.
    await page.wait_for_function("navigator.serviceWorker.controller !== null")

    context = page.context
    await context.set_offline(True)
    await page.reload()
    await expect(page.locator("#net")).to_be_visible()
    await expect(page.locator("#doctor-list li.doctor")).to_have_count(1)
    await expect(page.locator("#stale")).to_contain_text("Offline: showing what was loaded at")
    await page.get_by_role("link", name="My appointments").click()
    await expect(page.locator("#appointment-list li.appointment")).to_have_count(1)
    await page.get_by_role("link", name="Records").click()
    await expect(page.locator("#access-log tr")).not_to_have_count(0)
    await shot(page, "patient-offline-records-phone")

    # Book offline: the slots were loaded before; the booking waits in the outbox.
    await page.get_by_role("link", name="Find a doctor").click()
    await page.get_by_role("button", name="Free times").click()
    slot = page.locator("#doctor-list button.slot").nth(8)
    start = await slot.get_attribute("data-start")
    await slot.click()
    await expect(page.locator("#notice")).to_contain_text("saved on this phone")
    await expect(page.locator("#outbox")).to_have_text("1 action(s) waiting for the network.")
    await expect(page.locator("#appointment-list li.pending")).to_have_count(1)
    await shot(page, "patient-offline-queued-phone")

    # Back online, the first delivery reaches the server and its answer is lost: the retry
    # carries the same key, and the server answers with the same appointment.
    lost: list[str | None] = []

    async def lose_first_answer(route: Route) -> None:
        if route.request.method == "POST" and not lost:
            lost.append(route.request.headers.get("idempotency-key"))
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/api/v1/appointments", lose_first_answer)
    keys: list[str | None] = []
    page.on("request", lambda r: keys.append(r.headers.get("idempotency-key"))
            if r.method == "POST" and r.url.endswith("/api/v1/appointments") else None)
    await context.set_offline(False)
    await expect(page.locator("#outbox")).to_be_hidden(timeout=20_000)
    await expect(page.locator("#appointment-list li.appointment")).to_have_count(2)
    assert lost and lost[0] is not None
    assert len(keys) >= 2 and set(keys) == {lost[0]}, keys
    mine = (await api.get("/api/v1/appointments/mine", headers=patient)).json()
    assert sorted(a["start"] for a in mine) == sorted([first["start"], start]), mine
