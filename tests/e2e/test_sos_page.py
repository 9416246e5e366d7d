"""The SOS app: offline queue delivered exactly once, location updates, the patient's profile."""

from __future__ import annotations

import asyncio
import time

from playwright.async_api import Route, expect

from tests.support.web import HELSINKI, PHONE, bearer, shot


async def cases_of(api, headers, phone: str) -> list[dict]:
    """Cases raised by ``phone`` (newest first)."""
    page = await api.get("/api/v1/emergency/cases", params={"limit": 200}, headers=headers)
    return [c for c in page.json()["items"] if c["reporter_phone"] == phone]


async def sos_context(new_context):
    return await new_context(viewport=PHONE, is_mobile=True, geolocation=HELSINKI,
                             permissions=["geolocation"])


async def fill_sos(page, phone: str, symptom: str = "Chest pain") -> None:
    await page.goto("/sos")
    await expect(page.locator("#where")).to_contain_text("±25 m")
    await page.get_by_label(symptom).check()
    await page.get_by_label("Your phone number").fill(phone)


async def test_offline_sos_is_queued_and_delivered_exactly_once(api, accounts, new_context):
    operator = await bearer(api, accounts["emergency_operator"])
    phone = "+358409990001"
    context = await sos_context(new_context)
    page = await context.new_page()
    await page.goto("/sos")
    # Installed: the service worker serves the app itself when the network is gone.
    assert await page.evaluate("navigator.serviceWorker.ready.then((r) => r.active.scriptURL)")
    await page.wait_for_function("navigator.serviceWorker.controller !== null")
    await context.set_offline(True)
    await page.reload()
    await expect(page.get_by_role("button", name="SOS")).to_be_visible()
    await page.get_by_label("Chest pain").check()
    await page.get_by_label("Your phone number").fill(phone)
    await expect(page.locator("#where")).to_contain_text("±25 m")
    await shot(page, "sos-form-offline")

    await page.get_by_role("button", name="SOS").click()
    await expect(page.locator("#notice")).to_contain_text("will be sent automatically")
    await expect(page.get_by_role("button", name="SOS queued")).to_be_visible()
    await shot(page, "sos-queued-offline")
    await asyncio.sleep(1)
    assert await cases_of(api, operator, phone) == []

    # Back online, the first delivery reaches the server but its answer is lost on the way back:
    # the page must retry with the same Idempotency-Key and still make one case.
    lost: list[str | None] = []

    async def lose_first_answer(route: Route) -> None:
        if route.request.method == "POST" and not lost:
            lost.append(route.request.headers.get("idempotency-key"))
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/api/v1/emergency/cases", lose_first_answer)
    keys: list[str | None] = []
    page.on("request", lambda r: keys.append(r.headers.get("idempotency-key"))
            if r.method == "POST" and r.url.endswith("/api/v1/emergency/cases") else None)
    await context.set_offline(False)
    await expect(page.locator("#follow")).to_be_visible(timeout=20_000)
    await expect(page.locator("#case-status")).to_have_text("Request received")
    await shot(page, "sos-delivered")
    assert lost and lost[0] is not None
    assert len(keys) >= 2 and set(keys) == {lost[0]}
    found = await cases_of(api, operator, phone)
    assert len(found) == 1, found


async def test_signed_in_patient_attaches_profile_and_moves_are_confirmed(
    api, accounts, new_context
):
    operator = await bearer(api, accounts["emergency_operator"])
    patient = accounts["patient"]
    phone = "+358409990002"
    context = await sos_context(new_context)
    page = await context.new_page()
    await page.goto("/sos")
    await page.get_by_text("Registered patient? Sign in").click()
    await page.get_by_label("Email").fill(patient.email)
    await page.get_by_label("Password").fill(patient.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#notice")).to_contain_text("medical profile will be attached")
    await fill_sos(page, phone, symptom="Breathing problem")
    await page.get_by_role("button", name="SOS").click()
    await expect(page.locator("#follow")).to_be_visible()
    (case,) = await cases_of(api, operator, phone)
    assert case["patient_id"] == str(patient.patient_id)

    # The phone moves ~300 m: the case does not move by itself; the operator sees a pending move.
    await context.set_geolocation({"latitude": 60.1725, "longitude": 24.9410, "accuracy": 15})
    deadline = time.monotonic() + 15
    while True:
        view = (await api.get(f"/api/v1/emergency/cases/{case['id']}", headers=operator)).json()
        # Read committed: the case view's queries may straddle the report's commit; read again.
        if (view["pending_location"] and view["alerts"]) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    pending = view["pending_location"]
    assert pending and pending["distance_m"] > 200
    assert view["location"] == case["location"]
    assert any(a["kind"] == "location_moved" for a in view["alerts"])
    confirmed = await api.post(
        f"/api/v1/emergency/cases/{case['id']}/location/{pending['id']}/confirm", headers=operator
    )
    assert confirmed.status_code == 200, confirmed.text
    assert abs(confirmed.json()["location"]["lat"] - 60.1725) < 1e-6
