"""An operator takes phone calls with the keyboard only: search, pick, symptom, create, dispatch;
a second call nearby is flagged as a possible duplicate and linked. Street names are on the map."""

from __future__ import annotations

import uuid

import httpx
from playwright.async_api import expect

from tests.support.web import add_unit, bearer, shot, sign_in_page


def _phone() -> str:
    return f"+35840{uuid.uuid4().int % 10_000_000:07d}"


async def test_keyboard_only_call_taking_with_a_duplicate_linked(
    api: httpx.AsyncClient, accounts, new_context
):
    operator = await bearer(api, accounts["emergency_operator"])
    await add_unit(api, operator)
    page = await (await new_context(viewport={"width": 1400, "height": 900})).new_page()
    await page.goto("/console")
    await sign_in_page(page, accounts["emergency_operator"])
    await expect(page.locator("#live")).to_have_text("live")
    the_map = page.locator("#console-map")
    # The map opens on the operator's region and names its streets, from our own data.
    await expect(the_map).to_have_attribute("data-region", "helsinki")
    await expect(the_map).to_have_attribute("data-street-labels", lambda_positive())
    assert await page.locator(".street-label").count() > 0
    assert await page.locator(".hospital-label").count() > 0

    # Call 1: n, type the address, arrows + Enter pick it, symptom, callback number, triage
    # now, Enter creates the case; d dispatches the top recommendation.
    first_phone = _phone()
    await page.keyboard.press("n")
    await expect(page.locator("#newcall")).to_be_visible()
    await expect(page.locator("#call-search")).to_be_focused()
    await page.keyboard.type("aleksanterinkatu 52", delay=20)
    await expect(page.locator("#call-results li[role=option]").first).to_contain_text(
        "52 Aleksanterinkatu"
    )
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowUp")
    await shot(page, "call-1-search")
    await page.keyboard.press("Enter")
    await expect(page.locator("#call-place")).to_contain_text("52 Aleksanterinkatu")
    await expect(page.locator("#call-symptom")).to_be_focused()
    await page.keyboard.type("chest")
    await page.keyboard.press("Tab")
    await page.keyboard.type(first_phone)
    await page.keyboard.press("Tab")
    await page.keyboard.type("high")
    await page.keyboard.press("Enter")
    await expect(page.locator("#newcall")).to_be_hidden()
    await expect(page.locator("#detail-status")).to_have_text("triaged")
    await expect(page.locator("#detail-address")).to_contain_text("Aleksanterinkatu")
    await expect(page.locator("#detail-address")).to_contain_text("phone call")
    await page.keyboard.press("d")
    await expect(page.locator("#detail-status")).to_have_text("dispatched")
    first_id = await page.locator('#queue button[aria-current="true"]').get_attribute("data-case")
    first = (await api.get(f"/api/v1/emergency/cases/{first_id}", headers=operator)).json()
    assert first["dispatch"]["call_sign"]
    assert first["source"] == "phone" and first["reporter_phone"] == first_phone
    assert first["severity"] == "high" and "Aleksanterinkatu" in first["address"]

    # Call 2, a minute later, about the same incident: flagged, and l links it.
    await page.keyboard.press("n")
    await page.keyboard.type("Aleksanterinkatu 52", delay=20)
    await expect(page.locator("#call-results li[role=option]").first).to_contain_text(
        "Aleksanterinkatu"
    )
    await page.keyboard.press("Enter")
    await page.keyboard.type("major")
    await page.keyboard.press("Tab")
    await page.keyboard.type(_phone())
    await page.keyboard.press("Enter")
    await expect(page.locator("#duplicate")).to_be_visible()
    await shot(page, "call-2-possible-duplicate")
    await page.keyboard.press("l")
    await expect(page.locator("#linked")).to_be_visible()
    second_id = await page.locator('#queue button[aria-current="true"]').get_attribute("data-case")
    second = (await api.get(f"/api/v1/emergency/cases/{second_id}", headers=operator)).json()
    assert second["linked_to"] == first_id and second["possible_duplicate_of"] is None
    assert any(e["action"] == "link" for e in second["timeline"])
    # The linked call shows the first call's ambulance: one unit for one incident.
    assert second["dispatch"]["shared_with"] == first_id
    await expect(page.locator("#detail")).to_contain_text(first["dispatch"]["call_sign"])
    await shot(page, "call-3-linked")


def lambda_positive():
    """A regex for a positive count (expect() matches attributes by string or pattern)."""
    import re

    return re.compile(r"^[1-9]\d*$")


async def test_api_docs_render_without_internet(new_context, web_server):
    """Swagger UI comes from npm's swagger-ui-dist, served by the app: no CDN request at all."""
    context = await new_context(viewport={"width": 1200, "height": 800})
    outside: list[str] = []

    async def only_ours(route):
        if route.request.url.startswith(web_server.http):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_ours)
    page = await context.new_page()
    await page.goto("/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Lifeline")
    await expect(page.locator(".opblock-summary-path", has_text="/api/v1/geocode").first)\
        .to_be_visible()
    assert outside == []
    icon = await page.request.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/x-icon"
    await shot(page, "docs-offline")
