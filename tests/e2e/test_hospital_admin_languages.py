"""The hospital panel in English and Urdu (right to left): no serious axe-core violation, and
screenshots both ways on a desktop and a phone (issue 25). Also the crew page in Urdu."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.test_crew_page import dispatched_case
from tests.support.axe import assert_no_serious_violations
from tests.support.care_setup import make_clinic
from tests.support.web import PHONE, bearer, shot, sign_in_page

SIZES = {"desktop": {"viewport": {"width": 1100, "height": 900}},
         "phone": {"viewport": PHONE, "is_mobile": True}}
URDU = "try { localStorage.setItem('lifeline.lang', 'ur'); } catch (e) {}"


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_hospital_panel_en_and_ur_pass_axe(api, new_context, web_database_url, size):
    clinic = await make_clinic(api, web_database_url, accepted=False)
    page = await (await new_context(**SIZES[size])).new_page()
    await page.goto("/hospital")
    await assert_no_serious_violations(page)
    await sign_in_page(page, clinic.admin)
    row = page.locator(f'#roster tr[data-doctor="{clinic.doctor_id}"]')
    await expect(row.locator(".affiliation")).to_have_text("awaiting the doctor")
    await expect(page.locator("#services tr").first).to_be_visible()
    await assert_no_serious_violations(page)
    await shot(page, f"hospital-en-{size}")
    overflow = await page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= page.viewport_size["width"], f"scrolls sideways ({overflow} px)"

    await page.get_by_label("Language / زبان / Idioma").select_option("ur")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(row.locator(".affiliation")).to_have_text("ڈاکٹر کی منظوری کا انتظار")
    await expect(page.get_by_role("heading", name="ڈاکٹر اور ہفتہ وار شیڈول")).to_be_visible()
    await expect(page.locator("#live")).to_have_text("براہِ راست")
    await assert_no_serious_violations(page)
    await shot(page, f"hospital-ur-{size}")
    overflow = await page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= page.viewport_size["width"], f"scrolls sideways in RTL ({overflow} px)"


async def test_crew_page_in_urdu(api, accounts, new_context):
    operator = await bearer(api, accounts["emergency_operator"])
    _, link = await dispatched_case(api, operator)
    context = await new_context(viewport=PHONE, is_mobile=True)
    await context.add_init_script(URDU)
    page = await context.new_page()
    await page.goto(link)
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator("#unit-status")).to_have_text("مقرر")
    await expect(page.get_by_role("button", name="راستے میں")).to_be_enabled()
    await expect(page.locator("#leg")).to_contain_text("موقع تک")
    await expect(page.locator("#map")).to_have_attribute("data-legs", "2")
    await assert_no_serious_violations(page)
    await shot(page, "crew-ur-phone")
    await page.get_by_role("button", name="راستے میں").click()
    await expect(page.locator("#notice")).to_have_text("راستے میں درج ہو گیا۔")
    await page.get_by_label("Language / زبان / Idioma").select_option("es")
    await expect(page.locator("html")).to_have_attribute("dir", "ltr")
    await expect(page.locator("#unit-status")).to_have_text("en camino")
    await shot(page, "crew-es-phone")
