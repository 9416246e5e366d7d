"""The hospital admin removes a doctor's weekly line from the /hospital roster (issue 25): a modal
confirmation that starts on "Keep them", Escape keeps, all by keyboard; LTR and RTL shots."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.axe import assert_no_serious_violations
from tests.support.care_setup import make_clinic, ok
from tests.support.web import PHONE, bearer, shot, sign_in_page

SIZES = {"desktop": {"viewport": {"width": 1100, "height": 900}},
         "phone": {"viewport": PHONE, "is_mobile": True}}


async def week_of(api, clinic) -> list[tuple[int, str]]:
    roster = await ok(await api.get(f"/api/v1/hospitals/{clinic.hospital_id}/doctors",
                                    headers=await bearer(api, clinic.admin)))
    [doctor] = [d for d in roster if d["doctor_id"] == clinic.doctor_id]
    return sorted((s["weekday"], s["start_time"]) for s in doctor["schedules"])


async def test_admin_removes_a_line_by_keyboard_after_confirming(api, new_context,
                                                               web_database_url):
    clinic = await make_clinic(api, web_database_url)
    page = await (await new_context(**SIZES["desktop"], timezone_id="Europe/Helsinki")).new_page()
    await page.goto("/hospital")
    await sign_in_page(page, clinic.admin)
    row = page.locator(f'#roster tr[data-doctor="{clinic.doctor_id}"]')
    await expect(row.locator("[data-remove-line]")).to_have_count(7)
    name = (await row.locator("th").inner_text()).split("\n")[0].strip()
    wednesday = row.get_by_role("button", name=f"Remove {name}'s hours on Wednesday 00:00–23:45")
    dialog = page.get_by_role("dialog", name="Remove these weekly hours?")

    # Escape keeps the line, and focus comes back to the button that asked.
    await wednesday.focus()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    text = (await dialog.inner_text()).replace("\u2066", "").replace("\u2069", "")
    assert f"{name}: Wednesday 00:00–23:45." in text, text
    await expect(dialog.get_by_role("button", name="Keep them")).to_be_focused()
    await assert_no_serious_violations(page)
    await shot(page, "hospital-remove-line-en-desktop")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(wednesday).to_be_focused()
    assert len(await week_of(api, clinic)) == 7

    # "Keep them" by Enter keeps it too; Tab to "Remove hours" and Enter removes it.
    await page.keyboard.press("Enter")
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    assert len(await week_of(api, clinic)) == 7
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    await page.keyboard.press("Tab")
    await expect(dialog.get_by_role("button", name="Remove hours")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#notice")).to_have_text(
        "Hours removed on Wednesday; booked appointments stay.")
    await expect(row.locator("[data-remove-line]")).to_have_count(6)
    assert 2 not in {day for day, _ in await week_of(api, clinic)}
    # Focus stays in the doctor's week, so the next removal is one key away.
    assert await page.evaluate("document.activeElement.dataset.doctor") == clinic.doctor_id
    await expect(row).not_to_contain_text("Wed 00:00")


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_remove_dialog_in_urdu_right_to_left(api, new_context, web_database_url, size):
    clinic = await make_clinic(api, web_database_url)
    page = await (await new_context(**SIZES[size])).new_page()
    await page.goto("/hospital")
    await sign_in_page(page, clinic.admin)
    await page.get_by_label("Language / زبان / Idioma").select_option("ur")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    row = page.locator(f'#roster tr[data-doctor="{clinic.doctor_id}"]')
    await expect(row.get_by_role("button", name="ہٹائیں")).to_have_count(7)
    await row.get_by_role("button", name="ہٹائیں").first.click()
    dialog = page.get_by_role("dialog", name="یہ ہفتہ وار اوقات ہٹا دیں؟")
    await expect(dialog).to_be_visible()
    await assert_no_serious_violations(page)
    await shot(page, f"hospital-remove-line-ur-{size}")
    await dialog.get_by_role("button", name="اوقات ہٹائیں").click()
    await expect(row.get_by_role("button", name="ہٹائیں")).to_have_count(6)
    if size == "phone":
        await page.get_by_label("Language / زبان / Idioma").select_option("en")
        await row.scroll_into_view_if_needed()
        await shot(page, "hospital-remove-line-en-phone")
