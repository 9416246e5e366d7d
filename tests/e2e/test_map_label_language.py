"""The SOS map names streets in the page's language (issue 25): each street's ``name:<lang>``
from OSM where it has one, else its ``name``; a language switch reloads the labels."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.web import HELSINKI, PHONE, shot


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_sos_map_in_urdu_asks_for_urdu_names_and_shows_the_fallback(new_context, size):
    viewport = PHONE if size == "phone" else {"width": 1400, "height": 900}
    context = await new_context(viewport=viewport, is_mobile=size == "phone", locale="ur-PK",
                                geolocation=HELSINKI, permissions=["geolocation"])
    page = await context.new_page()
    async with page.expect_request(lambda r: "/api/v1/map/streets" in r.url
                                   and "lang=ur" in r.url):
        await page.goto("/sos")
    await expect(page.locator("#where")).to_contain_text("±25 m")
    # Helsinki's streets have no name:ur: their own (Finnish) name, written left to right.
    label = page.locator(".street-label span").first
    await expect(label).to_be_visible()
    assert await label.get_attribute("dir") == "auto"
    await shot(page, f"sos-ur-street-labels-{size}")

    # The switch reloads the labels in the new language.
    async with page.expect_request(lambda r: "/api/v1/map/streets" in r.url
                                   and "lang=es" in r.url):
        await page.locator("select.lang-switch").first.select_option("es")
    await expect(page.locator(".street-label span").first).to_be_visible()
