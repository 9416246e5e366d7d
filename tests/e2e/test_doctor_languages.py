"""The doctor portal in English and Urdu (right to left): axe-core finds no serious WCAG 2.1 AA
violation in either, the switch re-renders live text, and screenshots are taken both ways on a
desktop and a phone."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.axe import assert_no_serious_violations
from tests.support.care_setup import book_next, make_clinic
from tests.support.web import PHONE, shot, sign_in_page

SIZES = {"desktop": {"viewport": {"width": 1100, "height": 900}},
         "phone": {"viewport": PHONE, "is_mobile": True}}


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_doctor_portal_en_and_ur_pass_axe(api, new_context, web_database_url, size):
    clinic = await make_clinic(api, web_database_url)
    _, appointment, day = await book_next(api, web_database_url, clinic, name="Hina Raza")
    context = await new_context(timezone_id="Europe/Helsinki", **SIZES[size])
    page = await context.new_page()
    await page.goto("/doctor")
    await expect(page.locator("html")).to_have_attribute("dir", "ltr")
    await assert_no_serious_violations(page)           # the sign-in form
    await sign_in_page(page, clinic.doctor)
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    await page.locator("#agenda-date").fill(day)
    await page.locator("#agenda-date").dispatch_event("change")
    row = page.locator(f'li[data-appointment="{appointment["id"]}"]')
    await row.get_by_role("button", name="Check in").click()
    await row.get_by_role("button", name="Start visit").click()
    await expect(page.locator("#chart-title")).to_have_text("Chart: Hina Raza")
    await assert_no_serious_violations(page)
    await shot(page, f"doctor-en-{size}")

    # The switch: Urdu, right to left, live text re-rendered, remembered across a reload.
    await page.get_by_label("Language / زبان / Idioma").select_option("ur")
    html = page.locator("html")
    await expect(html).to_have_attribute("dir", "rtl")
    await expect(html).to_have_attribute("lang", "ur")
    await expect(page.get_by_role("heading", level=1)).to_have_text("لائف لائن ڈاکٹر پورٹل")
    await expect(row.locator(".badge")).to_have_text("معائنہ جاری")  # the visit was started
    await expect(page.locator("#chart-title")).to_have_text("چارٹ: Hina Raza")
    await assert_no_serious_violations(page)
    await shot(page, f"doctor-ur-{size}")
    await page.reload()
    await expect(html).to_have_attribute("dir", "rtl")
    await expect(page.get_by_role("heading", name="میری دستیابی")).to_be_visible()
    await page.get_by_label("Language / زبان / Idioma").select_option("es")
    await expect(html).to_have_attribute("dir", "ltr")
    await expect(page.get_by_role("heading", name="Mi disponibilidad")).to_be_visible()
    await shot(page, f"doctor-es-{size}")


async def test_browser_language_picks_urdu_for_the_sign_in(new_context):
    context = await new_context(locale="ur-PK", viewport=PHONE, is_mobile=True)
    page = await context.new_page()
    await page.goto("/doctor")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.get_by_role("button", name="سائن اِن")).to_be_visible()
    await assert_no_serious_violations(page)
    await shot(page, "doctor-login-ur-phone")


async def test_i18n_falls_back_to_english_then_the_key(new_context):
    page = await (await new_context()).new_page()
    await page.goto("/doctor")
    got = await page.evaluate("""() => {
      const I = window.I18N;
      I.init({en: {hello: "Hello {name}", only_en: "English only"}, ur: {hello: "سلام {name}"}});
      localStorage.setItem("lifeline.lang", "ur");
      I.init();
      return [I.lang, document.documentElement.dir, I.t("hello", {name: "Ali"}),
              I.t("only_en"), I.t("missing.key"), I.t("hello")];
    }""")
    assert got == ["ur", "rtl", "سلام Ali", "English only", "missing.key", "سلام {name}"]
