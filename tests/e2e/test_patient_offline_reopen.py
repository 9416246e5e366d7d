"""The installed patient app closed and reopened without a network still reads the user's
appointments (issue 25), unless they said at sign-in the phone is shared; sign-out forgets."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.conftest import PASSWORD
from tests.e2e.test_patient_app import (  # the clinic fixture: one doctor free all day
    book_by_api,
    clinic,  # noqa: F401
    free_slots,
    register,
)
from tests.support.web import HELSINKI, PHONE, shot

KEPT = """() => Object.keys(localStorage).filter((k) => k.startsWith("lifeline.patient.cache")
                                                   || k === "lifeline.patient.device")"""


async def sign_in(context, email: str, *, shared: bool):
    page = await context.new_page()
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto("/patient#appointments")
    form = page.locator("#signin")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(PASSWORD)
    if shared:
        await form.get_by_label("Shared phone – don't keep my data on this device").check()
    await form.scroll_into_view_if_needed()
    size = "phone" if page.viewport_size["width"] < 500 else "desktop"
    await shot(page, f"patient-signin-{'shared' if shared else 'kept'}-{size}")
    await form.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#tabs")).to_be_visible()
    await expect(page.locator("#appointment-list li.appointment")).to_have_count(1)
    # Installed: the shared service worker serves the app's own files without a network.
    await page.wait_for_function("navigator.serviceWorker.controller !== null")
    return page


async def test_closed_and_reopened_offline_reads_appointments(api, clinic, new_context):  # noqa: F811
    email, patient = await register(api)
    made = await book_by_api(api, patient, clinic, (await free_slots(api, clinic))[50])
    context = await new_context(viewport=PHONE, is_mobile=True, geolocation=HELSINKI,
                                permissions=["geolocation"])
    page = await sign_in(context, email, shared=False)
    await page.close()

    await context.set_offline(True)
    page = await context.new_page()
    await page.goto("/patient#appointments")
    card = page.locator(f'[data-appointment-id="{made["id"]}"]')
    await expect(card).to_be_visible()
    await expect(card.locator("[data-status]")).to_have_text("Booked")
    await expect(page.locator("#net")).to_be_visible()
    await expect(page.locator("#stale")).to_contain_text("Offline: showing what was loaded at")
    await expect(page.locator("#notice")).to_contain_text("Sign in again when you are back online")
    await shot(page, "patient-reopened-offline-en-phone")
    await page.get_by_label("Language / زبان / Idioma").select_option("ur")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(card.locator("[data-status]")).to_have_text("بُک شدہ")
    await shot(page, "patient-reopened-offline-ur-phone")
    await page.get_by_label("Language / زبان / Idioma").select_option("en")

    # Back online without a session: the sign-in form, the kept data still there until sign-out.
    await context.set_offline(False)
    await expect(page.locator("#auth")).to_be_visible()
    assert await page.evaluate(KEPT)
    await page.close()
    page = await sign_in(context, email, shared=False)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#auth")).to_be_visible()
    assert await page.evaluate(KEPT) == []
    # Nothing to read offline after sign-out.
    await context.set_offline(True)
    page = await context.new_page()
    await page.goto("/patient#appointments")
    await expect(page.locator("#auth")).to_be_visible()
    await expect(page.locator("#appointment-list li.appointment")).to_have_count(0)


async def test_shared_phone_keeps_nothing_after_closing(api, clinic, new_context):  # noqa: F811
    email, patient = await register(api)
    await book_by_api(api, patient, clinic, (await free_slots(api, clinic))[51])
    context = await new_context(viewport={"width": 1280, "height": 860})
    page = await sign_in(context, email, shared=True)
    assert await page.evaluate(KEPT) == []
    # Within the tab it still reads offline (today's behaviour).
    await context.set_offline(True)
    await page.reload()
    await expect(page.locator("#appointment-list li.appointment")).to_have_count(1)
    await page.close()
    page = await context.new_page()
    await page.goto("/patient#appointments")
    await expect(page.locator("#auth")).to_be_visible()
    await expect(page.locator("#appointment-list li.appointment")).to_have_count(0)
    await shot(page, "patient-reopened-offline-shared-desktop")
    await page.get_by_label("Language / زبان / Idioma").select_option("ur")
    await expect(page.locator("#signin")).to_contain_text("مشترکہ فون")
    await shot(page, "patient-signin-ur-desktop")
