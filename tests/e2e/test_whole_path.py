"""The whole path in a real browser: SOS → console → crew → hospital → patient sees every step."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime

import httpx
from playwright.async_api import Page, expect

from tests.support.web import (
    HELSINKI,
    PHONE,
    add_unit,
    bearer,
    bind_admin,
    crew_link,
    shot,
    sign_in_page,
)


async def sign_in(page: Page, account) -> None:
    await sign_in_page(page, account)


async def open_console(new_context, account) -> Page:
    page = await (await new_context(viewport={"width": 1400, "height": 900})).new_page()
    await page.goto("/console")
    await sign_in(page, account)
    await expect(page.locator("#live")).to_have_text("live")
    return page


async def test_sos_to_handover_across_the_four_pages(
    api: httpx.AsyncClient, accounts, new_context, web_database_url
):
    operator = await bearer(api, accounts["emergency_operator"])
    await add_unit(api, operator)
    phone = f"+35840{uuid.uuid4().int % 10_000_000:07d}"
    console = await open_console(new_context, accounts["emergency_operator"])
    await shot(console, "console-empty")

    # The patient presses SOS; the case reaches the console within 2 s, with no reload.
    patient = await (await new_context(viewport=PHONE, is_mobile=True, geolocation=HELSINKI,
                                       permissions=["geolocation"])).new_page()
    await patient.goto("/sos")
    await expect(patient.locator("#where")).to_contain_text("±25 m")
    await patient.get_by_label("Chest pain").check()
    await patient.get_by_label("Your phone number").fill(phone)
    async with patient.expect_response(
        lambda r: r.url.endswith("/api/v1/emergency/cases") and r.request.method == "POST"
    ) as answered:
        await patient.get_by_role("button", name="SOS").click()
    assert (await answered.value).status == 201
    accepted = time.monotonic()
    entry = console.locator("#queue button", has_text=phone)
    await expect(entry).to_be_visible(timeout=2_000)
    assert time.monotonic() - accepted < 2.0
    await expect(patient.locator("#case-status")).to_have_text("Request received")
    await shot(patient, "path-1-patient-received")

    # The operator triages and dispatches the top recommendation (keyboard shortcut d).
    await entry.click()
    await expect(console.locator("#detail-status")).to_have_text("raised")
    await console.get_by_label("Severity").select_option("high")
    await console.get_by_role("button", name="Triage (t)").click()
    await expect(console.locator("#detail-status")).to_have_text("triaged")
    await expect(console.get_by_role("button", name="Dispatch (d)")).to_be_enabled()
    await console.locator("body").press("d")
    await expect(console.locator("#detail-status")).to_have_text("dispatched")
    await expect(console.locator("#console-map")).to_have_attribute("data-route-legs", "2")
    await shot(console, "path-2-console-dispatched")
    await expect(patient.locator("#case-status")).to_have_text("Ambulance dispatched")
    await expect(patient.locator("#ambulance")).to_contain_text("min away")

    case_id = await entry.get_attribute("data-case")
    case = (await api.get(f"/api/v1/emergency/cases/{case_id}", headers=operator)).json()
    # The unit's GPS moves it on the console map live.
    ping = await api.post(f"/api/v1/units/{case['dispatch']['unit_id']}/position", headers=operator,
                          json={"lat": 60.1702, "lng": 24.9412,
                                "recorded_at": datetime.now(UTC).isoformat()})
    assert ping.status_code == 200 and ping.json()["live"], ping.text
    await expect(console.locator("#console-map")).to_have_attribute(
        "data-unit-fixes", re.compile("^[1-9]")
    )
    link = await crew_link(api, operator, case_id)
    crew = await (await new_context(viewport=PHONE, is_mobile=True)).new_page()
    await crew.goto(link)
    await expect(crew.locator("#map")).to_have_attribute("data-legs", "2")

    steps = [("En route", "Ambulance on its way"), ("On scene", "Ambulance with you"),
             ("Transporting", "Going to hospital")]
    for button, patient_sees in steps:
        await crew.get_by_role("button", name=button).click()
        # The crew's report, committed, relayed and pushed, then the patient's page reads the
        # case again: seconds on a machine busy with the whole suite (failed once at 5 s).
        await expect(patient.locator("#case-status")).to_have_text(patient_sees, timeout=15_000)
    await shot(crew, "path-3-crew-transporting")
    await shot(patient, "path-4-patient-transporting")

    # The destination hospital sees the patient coming and acknowledges.
    admin = accounts["hospital_admin"]
    bind_admin(web_database_url, admin, case["destination_hospital_id"])
    hospital = await (await new_context(viewport={"width": 1000, "height": 800})).new_page()
    await hospital.goto("/hospital")
    await sign_in(hospital, admin)
    card = hospital.locator(f"article[data-case='{case_id}']")
    await expect(card).to_contain_text("chest pain")
    await expect(card.locator(".unit-status")).to_have_text("transporting")
    await card.get_by_role("button", name="Acknowledge").click()
    await expect(card).to_contain_text("Acknowledged")
    await hospital.get_by_label("Beds available").fill("7")
    await hospital.get_by_role("button", name="Update").click()
    await expect(hospital.locator("#notice")).to_have_text("ED status updated.")
    beds = (await api.get(f"/api/v1/hospitals/{case['destination_hospital_id']}")).json()
    assert beds["beds_available"] == 7 and beds["ed_status"] == "open"
    await shot(hospital, "path-5-hospital-acknowledged")
    await expect(console.locator("#detail")).to_contain_text("hospital acknowledged")

    for button, patient_sees in [("At hospital", "At the hospital"),
                                 ("Handover complete", "Handed over to the hospital")]:
        await crew.get_by_role("button", name=button).click()
        # The crew's report, committed, relayed and pushed, then the patient's page reads the
        # case again: seconds on a machine busy with the whole suite (failed once at 5 s).
        await expect(patient.locator("#case-status")).to_have_text(patient_sees, timeout=15_000)
    await expect(patient.get_by_role("button", name="Start a new SOS")).to_be_visible()
    await shot(patient, "path-6-patient-handed-over")
    await expect(console.locator("#queue button", has_text=phone)).to_have_count(0)
    await expect(card).to_have_count(0)
    await shot(console, "path-7-console-after")
    final = (await api.get(f"/api/v1/emergency/cases/{case_id}", headers=operator)).json()
    assert final["status"] == "closed"


async def test_console_works_with_the_websocket_endpoint_unavailable(api, accounts, new_context):
    operator = await bearer(api, accounts["emergency_operator"])
    context = await new_context(viewport={"width": 1400, "height": 900})
    refused: list[str] = []

    async def refuse(ws) -> None:
        refused.append(ws.url)
        await ws.close(code=1011, reason="unavailable")

    await context.route_web_socket(re.compile(r"/ws(\?|$)"), refuse)
    # The page's clock is ours to move: the queue timers turn amber and red after the default
    # 60 and 120 s without the test waiting that long or the server being told other targets.
    await context.clock.install()
    page = await context.new_page()
    await page.goto("/console")
    await sign_in_page(page, accounts["emergency_operator"])
    await expect(page.locator("#live")).to_have_text("stale — polling")
    assert refused

    closure = await api.post("/api/v1/routing/closures", headers=operator, json={
        "geometry": {"type": "LineString", "coordinates": [[24.9500, 60.1770], [24.9510, 60.1770]]},
        "reason": "burst water main", "duration_minutes": 10})
    assert closure.status_code == 201, closure.text
    await expect(page.locator("#console-map")).to_have_attribute("data-closures", "1")

    phone = f"+35840{uuid.uuid4().int % 10_000_000:07d}"
    sos = await api.post("/api/v1/emergency/cases", json={
        "lat": 60.1705, "lng": 24.9410, "symptom_category": "stroke_symptoms",
        "reporter_phone": phone}, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert sos.status_code == 201
    entry = page.locator("#queue button", has_text=phone)
    await expect(entry).to_be_visible(timeout=8_000)
    await entry.click()
    await page.get_by_label("Severity").select_option("critical")
    await page.keyboard.press("t")
    await expect(page.locator("#detail-status")).to_have_text("triaged")
    await expect(page.locator("#live")).to_have_text("stale — polling")
    timer = entry.locator(".timer")
    await expect(timer).not_to_have_class(re.compile(r"\b(amber|red)\b"))
    await page.clock.fast_forward("01:01")  # README: amber after 60 s
    await expect(timer).to_have_class(re.compile(r"\bamber\b"))
    await page.clock.fast_forward("01:00")  # red after 120 s
    await expect(timer).to_have_class(re.compile(r"\bred\b"))
    await shot(page, "console-stale-polling")
    await page.keyboard.press("c")
    await expect(page.get_by_label("Cancel reason")).to_be_focused()
    await page.keyboard.type("duplicate call")
    await page.get_by_role("button", name="Cancel (c)").click()
    await expect(entry).to_have_count(0)
    lifted = await api.delete(f"/api/v1/routing/closures/{closure.json()['id']}", headers=operator)
    assert lifted.status_code == 204
    view = (await api.get(f"/api/v1/emergency/cases/{sos.json()['id']}", headers=operator)).json()
    assert view["severity"] == "critical" and view["status"] == "cancelled"
    assert view["cancel_reason"] == "duplicate call"
