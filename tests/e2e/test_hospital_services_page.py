"""The hospital panel shows each service's status and lets its admin set one until a time."""

from __future__ import annotations

from datetime import datetime, timedelta

from playwright.async_api import expect

from tests.support.web import bind_admin, shot, sign_in_page

CENTRAL = "DEMO Central University Hospital (demo data)"


async def test_admin_marks_a_service_unavailable_until_a_time(
    api, accounts, new_context, web_database_url
):
    admin = accounts["hospital_admin"]
    hospitals = (await api.get("/api/v1/hospitals", params={"limit": 50})).json()
    central = next(h for h in hospitals if h["name"] == CENTRAL)
    bind_admin(web_database_url, admin, central["id"])
    context = await new_context(viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    await page.goto("/hospital")
    await sign_in_page(page, admin)
    row = page.locator('tr[data-capability="stroke_thrombectomy"]')
    await expect(row.locator(".badge")).to_have_text("available")
    await row.get_by_label("stroke thrombectomy status").select_option("unavailable")
    await row.get_by_label("stroke thrombectomy reason").fill("CT down")
    until = (datetime.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    await row.get_by_label("stroke thrombectomy until").fill(until.strftime("%Y-%m-%dT%H:%M"))
    await row.get_by_role("button", name="Save").click()
    # The notice first: when the save fails, its text is the server's reason.
    await expect(page.locator("#notice")).to_contain_text("stroke thrombectomy: unavailable",
                                                          timeout=20_000)
    await expect(row.locator(".badge")).to_have_text("unavailable", timeout=20_000)
    await expect(row).to_contain_text("until")
    await shot(page, "hospital-services")

    services = (await api.get(f"/api/v1/hospitals/{central['id']}/services")).json()["services"]
    state = next(s for s in services if s["capability"] == "stroke_thrombectomy")
    assert state["status"] == "unavailable" and state["reason"] == "CT down"
    assert datetime.fromisoformat(state["until"]).astimezone().replace(tzinfo=None) == until
    # Back to available through the API: the panel follows live (the capacity channel).
    # A fresh sign-in: a token cached before the admin was rebound carries the old hospital.
    login = await api.post("/api/v1/auth/login", json={
        "email": admin.email, "password": admin.password,
        "recovery_code": admin.recovery_codes.pop()})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    r = await api.put(f"/api/v1/hospitals/{central['id']}/services/stroke_thrombectomy",
                      json={"status": "available"}, headers=headers)
    assert r.status_code == 200, r.text
    await expect(row.locator(".badge")).to_have_text("available", timeout=20_000)
