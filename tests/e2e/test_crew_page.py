"""The crew page from the SMS link: routes to the scene and the hospital, and status buttons."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect

from tests.support.web import PHONE, add_unit, bearer, crew_link, shot


async def dispatched_case(api, operator_headers) -> tuple[dict, str]:
    """A raised, triaged and dispatched case in Helsinki, and its crew link."""
    await add_unit(api, operator_headers)
    sos = await api.post(
        "/api/v1/emergency/cases",
        json={"lat": 60.1712, "lng": 24.9432, "symptom_category": "chest_pain",
              "reporter_phone": "+358401234567"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert sos.status_code == 201, sos.text
    case = sos.json()
    triage = await api.post(f"/api/v1/emergency/cases/{case['id']}/triage",
                            json={"severity": "high"}, headers=operator_headers)
    assert triage.status_code == 200, triage.text
    dispatch = await api.post(f"/api/v1/emergency/cases/{case['id']}/dispatch", json={},
                              headers=operator_headers)
    assert dispatch.status_code == 200, dispatch.text
    return dispatch.json(), await crew_link(api, operator_headers, case["id"])


async def case_status(api, headers, case_id: str) -> str:
    return (await api.get(f"/api/v1/emergency/cases/{case_id}", headers=headers)).json()["status"]


async def test_crew_page_shows_both_legs_and_drives_the_case_to_closed(api, accounts, new_context):
    operator = await bearer(api, accounts["emergency_operator"])
    case, link = await dispatched_case(api, operator)
    page = await (await new_context(viewport=PHONE, is_mobile=True)).new_page()
    await page.goto(link)

    await expect(page.locator("#unit-status")).to_have_text("assigned")
    await expect(page.locator("#map")).to_have_attribute("data-legs", "2")
    await expect(page.locator("#leg")).to_contain_text("To scene")
    # Our own roads, not tiles: hundreds of GeoJSON pieces from PostGIS.
    await expect(page.locator("#map")).to_have_attribute("data-roads", re.compile(r"^\d{3,}$"))
    await shot(page, "crew-assigned")

    for button, unit_status in [("En route", "en route"), ("On scene", "on scene"),
                                ("Transporting", "transporting"), ("At hospital", "at hospital")]:
        await page.get_by_role("button", name=button).click()
        await expect(page.locator("#unit-status")).to_have_text(unit_status)
    await expect(page.locator("#leg")).to_contain_text("To hospital")
    await shot(page, "crew-at-hospital")
    assert await case_status(api, operator, case["id"]) == "arrived"

    await page.get_by_role("button", name="Handover complete").click()
    await expect(page.locator("#notice")).to_contain_text("expired")
    assert await case_status(api, operator, case["id"]) == "closed"


async def test_crew_status_taken_offline_is_sent_once_when_back_online(api, accounts, new_context):
    operator = await bearer(api, accounts["emergency_operator"])
    case, link = await dispatched_case(api, operator)
    context = await new_context(viewport=PHONE, is_mobile=True)
    page = await context.new_page()
    await page.goto(link)
    await expect(page.locator("#unit-status")).to_have_text("assigned")

    await context.set_offline(True)
    await page.get_by_role("button", name="En route").click()
    await expect(page.locator("#queued")).to_contain_text("En route will be sent")
    await context.set_offline(False)
    await expect(page.locator("#unit-status")).to_have_text("en route", timeout=15_000)
    view = (await api.get(f"/api/v1/emergency/cases/{case['id']}", headers=operator)).json()
    units = [e["to_status"] for e in view["timeline"] if e["kind"] == "unit"]
    assert units.count("en_route") == 1
