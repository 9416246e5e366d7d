"""The patient app and the SOS page in English and Urdu (right to left): axe-core finds no
serious violation, and every screen is shot on a desktop and a phone, in both directions."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.e2e.test_patient_app import (  # the clinic fixture: one doctor free all day
    DESKTOP,
    book_by_api,
    clinic,  # noqa: F401
    free_slots,
    register,
    signed_in_page,
)
from tests.support.axe import assert_no_serious_violations
from tests.support.web import HELSINKI, PHONE, shot

LOCALES = {"en": "en-GB", "ur": "ur-PK"}
SIZES = {"desktop": DESKTOP, "phone": PHONE}
HEADINGS = {
    "en": {"doctors": "Find a doctor", "appointments": "My appointments", "profile": "Profile",
           "records": "Records", "emergencies": "Emergencies"},
    "ur": {"doctors": "ڈاکٹر تلاش کریں", "appointments": "میری ملاقاتیں", "profile": "پروفائل",
           "records": "ریکارڈ", "emergencies": "ایمرجنسی"},
}


async def direction(page: Page, lang: str) -> None:
    """The browser's language chose the page's; Urdu is laid out right to left."""
    assert await page.evaluate("document.documentElement.lang") == lang
    assert await page.evaluate("document.documentElement.dir") == ("rtl" if lang == "ur" else "ltr")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"scrolls sideways ({width} px)"


@pytest.mark.parametrize("lang", ["en", "ur"])
async def test_sos_page_in_each_direction_has_no_serious_axe_violation(lang, new_context):
    for size, viewport in SIZES.items():
        context = await new_context(viewport=viewport, is_mobile=size == "phone",
                                    locale=LOCALES[lang], geolocation=HELSINKI,
                                    permissions=["geolocation"])
        page = await context.new_page()
        await page.goto("/sos")
        await expect(page.locator("#where")).to_contain_text("±25 m")
        await direction(page, lang)
        if lang == "ur":
            await expect(page.locator("#symptoms")).to_contain_text("سینے میں درد")
        await assert_no_serious_violations(page)
        await shot(page, f"sos-{lang}-{size}")


@pytest.mark.parametrize("lang", ["en", "ur"])
async def test_patient_app_in_each_direction_has_no_serious_axe_violation(
    lang, api, clinic, new_context  # noqa: F811
):
    email, patient = await register(api)
    slot = (await free_slots(api, clinic))[20 if lang == "ur" else 21]
    await book_by_api(api, patient, clinic, slot)
    for size, viewport in SIZES.items():
        context_page = await signed_in_page(new_context, email, viewport=viewport,
                                            locale=LOCALES[lang])
        page = context_page
        await direction(page, lang)
        if size == "desktop":
            # The sign-in screen, once per language, signed out in a fresh context.
            fresh = await (await new_context(viewport=viewport, locale=LOCALES[lang])).new_page()
            await fresh.goto("/patient")
            await expect(fresh.locator("#signin")).to_be_visible()
            await assert_no_serious_violations(fresh)
            await shot(fresh, f"patient-{lang}-signin-{size}")
        for view, heading in HEADINGS[lang].items():
            await page.locator(f'#tabs a[href="#{view}"]').click()
            await expect(page.locator(f"#{view} h2")).to_have_text(heading)
            if view == "doctors":
                await page.locator("#q-specialty").fill(clinic.specialty)
                await page.locator("#search button[type=submit]").click()
                await expect(page.locator("#doctor-list li.doctor")).to_have_count(1)
                await page.locator("#doctor-list [data-slots]").click()
                await expect(page.locator("#doctor-list button.slot").first).to_be_visible()
            if view == "appointments":
                await expect(page.locator("#appointment-list li.appointment")).to_have_count(1)
            if view == "records":
                await expect(page.locator("#access-log tr").first).to_be_visible()
            await direction(page, lang)
            await assert_no_serious_violations(page)
            await shot(page, f"patient-{lang}-{view}-{size}")


async def test_the_language_switch_is_remembered_and_turns_the_page(new_context):
    context = await new_context(viewport=PHONE, is_mobile=True, locale="en-GB",
                                geolocation=HELSINKI, permissions=["geolocation"])
    page = await context.new_page()
    await page.goto("/sos")
    await expect(page.get_by_text("What is happening?")).to_be_visible()
    await page.get_by_label("Language / زبان / Idioma").select_option("es")
    await expect(page.get_by_text("¿Qué está pasando?")).to_be_visible()
    await expect(page.get_by_label("Dolor en el pecho")).to_be_visible()
    await shot(page, "sos-es-phone")
    await page.get_by_label("Language / زبان / Idioma").select_option("ur")
    assert await page.evaluate("document.documentElement.dir") == "rtl"
    await page.goto("/patient")
    # One choice for the whole app: the patient app opens in it too.
    await expect(page.locator("#signin h3")).to_have_text("سائن اِن")
    assert await page.evaluate("document.documentElement.dir") == "rtl"
    await page.get_by_label("Language / زبان / Idioma").select_option("en")
    await expect(page.locator("#signin h3")).to_have_text("Sign in")
    assert await page.evaluate("localStorage.getItem('lifeline.lang')") == "en"
