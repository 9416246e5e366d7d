"""The crew page from the SMS link: routes to the scene and the hospital, and status buttons."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.web.conftest import PHONE, add_unit, bearer, crew_link, shot


def dispatched_case(api, operator_headers) -> tuple[dict, str]:
    """A raised, triaged and dispatched case in Helsinki, and its crew link."""
    add_unit(api, operator_headers)
    sos = api.post(
        "/api/v1/emergency/cases",
        json={"lat": 60.1712, "lng": 24.9432, "symptom_category": "chest_pain",
              "reporter_phone": "+358401234567"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert sos.status_code == 201, sos.text
    case = sos.json()
    triage = api.post(f"/api/v1/emergency/cases/{case['id']}/triage",
                      json={"severity": "high"}, headers=operator_headers)
    assert triage.status_code == 200, triage.text
    dispatch = api.post(f"/api/v1/emergency/cases/{case['id']}/dispatch", json={},
                        headers=operator_headers)
    assert dispatch.status_code == 200, dispatch.text
    return dispatch.json(), crew_link(api, operator_headers, case["id"])


def test_crew_page_shows_both_legs_and_drives_the_case_to_closed(api, accounts, new_context):
    operator = bearer(api, accounts["emergency_operator"])
    case, link = dispatched_case(api, operator)
    page = new_context(viewport=PHONE, is_mobile=True).new_page()
    page.goto(link)

    expect(page.locator("#unit-status")).to_have_text("assigned")
    expect(page.locator("#map")).to_have_attribute("data-legs", "2")
    expect(page.locator("#leg")).to_contain_text("To scene")
    assert int(page.locator("#map").get_attribute("data-roads")) > 100
    shot(page, "crew-assigned")

    for button, unit_status in [("En route", "en route"), ("On scene", "on scene"),
                                ("Transporting", "transporting"), ("At hospital", "at hospital")]:
        page.get_by_role("button", name=button).click()
        expect(page.locator("#unit-status")).to_have_text(unit_status)
    expect(page.locator("#leg")).to_contain_text("To hospital")
    shot(page, "crew-at-hospital")
    assert api.get(f"/api/v1/emergency/cases/{case['id']}", headers=operator).json()[
        "status"] == "arrived"

    page.get_by_role("button", name="Handover complete").click()
    expect(page.locator("#notice")).to_contain_text("expired")
    assert api.get(f"/api/v1/emergency/cases/{case['id']}", headers=operator).json()[
        "status"] == "closed"


def test_crew_status_taken_offline_is_sent_once_when_back_online(api, accounts, new_context):
    operator = bearer(api, accounts["emergency_operator"])
    case, link = dispatched_case(api, operator)
    context = new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    page.goto(link)
    expect(page.locator("#unit-status")).to_have_text("assigned")

    context.set_offline(True)
    page.get_by_role("button", name="En route").click()
    expect(page.locator("#queued")).to_contain_text("En route will be sent")
    context.set_offline(False)
    expect(page.locator("#unit-status")).to_have_text("en route", timeout=15_000)
    timeline = api.get(f"/api/v1/emergency/cases/{case['id']}", headers=operator).json()["timeline"]
    assert [e["to_status"] for e in timeline if e["kind"] == "unit"].count("en_route") == 1
