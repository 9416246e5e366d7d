"""The console's coverage layer in a real browser: figure, shaded cells, move-up accepted."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from playwright.async_api import expect

from tests.e2e.test_whole_path import open_console, sign_in
from tests.support.web import PHONE, add_unit, bearer, shot


async def test_coverage_layer_shows_uncovered_cells_and_accepts_a_move_up(
    api: httpx.AsyncClient, accounts, new_context
):
    operator = await bearer(api, accounts["emergency_operator"])
    # Two units share the south station; a standby point waits in the north of the region.
    for _ in range(2):
        await add_unit(api, operator, station_lat=60.1660, station_lng=24.9400)
    made = await api.post("/api/v1/coverage/posts", json={
        "region": "helsinki", "name": "North standby", "lat": 60.1770, "lng": 24.9460,
    }, headers=operator)
    assert made.status_code in (201, 409), made.text
    console = await open_console(new_context, accounts["emergency_operator"])
    figure = console.locator("#coverage-figure")
    await expect(figure).to_contain_text("Coverage 8 min:")
    await console.locator("#coverage-minutes").select_option("2")
    await expect(figure).to_contain_text("Coverage 2 min:")
    await expect(console.locator("#console-map")).not_to_have_attribute("data-uncovered", "0")
    accept = console.locator("#moveups button", has_text="Accept").first
    await expect(accept).to_be_visible(timeout=10_000)
    await shot(console, "console-coverage-layer")
    async with console.expect_response(lambda r: r.url.endswith("/move-up")) as answered:
        await accept.click()
    assert (await answered.value).status == 201
    await expect(console.locator("#notice")).to_contain_text("Move-up sent")
    await expect(console.locator("#moveups button[disabled]")).to_have_count(0)  # re-planned
    await shot(console, "console-coverage-moved")

    # A new case: each recommended unit shows the coverage the region loses if it goes.
    sos = await api.post("/api/v1/emergency/cases", json={
        "lat": 60.1699, "lng": 24.9384, "symptom_category": "breathing",
        "reporter_phone": "+358401234999",
    })
    assert sos.status_code == 201, sos.text
    case_id = sos.json()["id"]
    entry = console.locator(f'#queue button[data-case="{case_id}"]')
    await expect(entry).to_be_visible(timeout=5_000)
    await entry.click()
    await expect(console.locator("#detail .cov-cost").first).to_contain_text("pp cover")
    await shot(console, "console-coverage-dispatch-cost")



async def _dot(page, unit_id: str, lat: float, lng: float) -> None:
    """The console draws the unit's dot at (lat, lng) (the map is a canvas: read its record)."""
    await expect(page.locator("#console-map")).to_have_attribute(
        f"data-dot-{unit_id}", f"{lat:.5f},{lng:.5f}", timeout=15_000)


async def test_a_unit_sent_to_a_post_is_drawn_at_the_post_until_its_gps_speaks(
    api: httpx.AsyncClient, accounts, new_context
):
    """Issue 24: after a move-up the dot leaves the station for the post; a fresh fix wins."""
    operator = await bearer(api, accounts["emergency_operator"])
    unit = await add_unit(api, operator, station_lat=60.1655, station_lng=24.9395)
    made = await api.post("/api/v1/coverage/posts", json={
        "region": "helsinki", "name": "East standby", "lat": 60.1725, "lng": 24.9500,
    }, headers=operator)
    assert made.status_code in (201, 409), made.text
    posts = (await api.get("/api/v1/coverage/posts", params={"region": "helsinki"},
                           headers=operator)).json()
    post = next(p for p in posts if p["name"] == "East standby")
    console = await open_console(new_context, accounts["emergency_operator"])
    await _dot(console, unit["id"], 60.1655, 24.9395)  # at its station
    await expect(console.locator("#coverage-figure")).to_have_attribute("data-live", "live")
    moved = await api.post(f"/api/v1/units/{unit['id']}/move-up", json={"post_id": post["id"]},
                           headers=operator)
    assert moved.status_code == 201, moved.text
    # coverage.updated (move_up) reaches the console, which redraws the dot at the post
    await _dot(console, unit["id"], post["lat"], post["lng"])
    await console.wait_for_timeout(300)
    await shot(console, "console-unit-at-post")
    phone = await (await new_context(viewport=PHONE, is_mobile=True)).new_page()
    await phone.goto("/console")
    await sign_in(phone, accounts["emergency_operator"])
    await _dot(phone, unit["id"], post["lat"], post["lng"])
    await shot(phone, "console-unit-at-post-phone")
    # a fresh GPS fix elsewhere: the dot follows the vehicle, not the post
    fix = await api.post(f"/api/v1/units/{unit['id']}/position", headers=operator, json={
        "lat": 60.1690, "lng": 24.9440, "recorded_at": datetime.now(UTC).isoformat()})
    assert fix.status_code == 200 and fix.json()["live"], fix.text
    await _dot(console, unit["id"], 60.1690, 24.9440)
