"""Every page fits a 360-px phone and every control has a label (keyboard, screen reader)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.test_crew_page import dispatched_case
from tests.support.web import HELSINKI, PHONE, bearer, shot, sign_in_page

UNLABELLED = """() => [...document.querySelectorAll('input, select, button, textarea')]
  .filter((el) => el.offsetParent !== null)
  .filter((el) => {
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || (el.tagName === 'BUTTON' && el.textContent.trim());
    return !named && el.type !== 'radio';
  }).map((el) => el.outerHTML.slice(0, 120))"""


async def check(page: Page, name: str) -> None:
    overflow = await page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= PHONE["width"], f"{name} scrolls sideways at 360 px ({overflow} px)"
    assert await page.evaluate(UNLABELLED) == [], name
    await shot(page, f"phone-{name}")


async def test_pages_fit_a_360px_phone_with_labelled_controls(api, accounts, new_context):
    context = await new_context(viewport=PHONE, is_mobile=True, geolocation=HELSINKI,
                                permissions=["geolocation"])
    page = await context.new_page()
    await page.goto("/sos")
    await expect(page.locator("#where")).to_contain_text("±25 m")
    await check(page, "sos")

    for path, account in (("/console", "emergency_operator"), ("/hospital", "hospital_admin")):
        page = await context.new_page()
        await page.goto(path)
        await check(page, f"{path[1:]}-login")
        await sign_in_page(page, accounts[account])
        await expect(page.locator("#live")).to_have_text("live")
        await check(page, path[1:])

    operator = await bearer(api, accounts["emergency_operator"])
    _, link = await dispatched_case(api, operator)
    page = await context.new_page()
    await page.goto(link)
    await expect(page.locator("#map")).to_have_attribute("data-legs", "2")
    await check(page, "crew")
