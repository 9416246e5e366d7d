"""The console's coverage layer in a real browser: figure, shaded cells, move-up accepted."""

from __future__ import annotations

import httpx
from playwright.async_api import expect

from tests.web.conftest import add_unit, bearer, shot
from tests.web.test_whole_path import open_console


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

