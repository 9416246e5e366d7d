"""The hospital panel's admin side (issue 25): today's metrics, departments, attaching a doctor who
then accepts in their own portal, and the weekly schedules overview."""

from __future__ import annotations

import pyotp
from playwright.async_api import expect

from tests.support.care_setup import make_clinic, ok
from tests.support.web import bearer, shot, sign_in_page


async def test_admin_attaches_a_doctor_who_accepts(api, new_context, web_database_url):
    clinic = await make_clinic(api, web_database_url, attached=False)
    context = await new_context(viewport={"width": 1100, "height": 900},
                                timezone_id="Europe/Helsinki")
    admin = await context.new_page()
    await admin.goto("/hospital")
    await sign_in_page(admin, clinic.admin)

    # The dashboard shows the API's metrics.
    metrics = await ok(await api.get(f"/api/v1/hospitals/{clinic.hospital_id}/dashboard-metrics",
                                     headers=await bearer(api, clinic.admin)))
    tile = admin.locator('[data-metric="open_cases"] dd')
    await expect(tile).to_have_text(str(metrics["open_emergency_cases"]))
    await expect(admin.locator('[data-metric="appointments"] dd').first).to_have_text(
        str(metrics["appointments_today"]))

    await admin.get_by_label("New department").fill("Cardiology")
    await admin.get_by_role("button", name="Add department").click()
    await expect(admin.locator("#notice")).to_have_text("Department Cardiology added.")
    await expect(admin.locator("#departments")).to_contain_text("Cardiology")

    attach = admin.get_by_role("form", name="Attach a doctor")
    await attach.get_by_label("Doctor").select_option(clinic.doctor_id)
    await attach.get_by_label("Department").select_option(label="Cardiology")
    await attach.get_by_role("button", name="Attach").click()
    row = admin.locator(f'#roster tr[data-doctor="{clinic.doctor_id}"]')
    await expect(row.locator(".affiliation")).to_have_text("awaiting the doctor")
    await expect(row).to_contain_text("Cardiology")

    # The doctor accepts in their portal.
    doctor = await (await new_context(viewport={"width": 1000, "height": 800})).new_page()
    await doctor.goto("/doctor")
    # Signed in with the authenticator's current code (this doctor has not used it yet).
    await doctor.get_by_label("Email").fill(clinic.doctor.email)
    await doctor.get_by_label("Password").fill(clinic.doctor.password)
    await doctor.get_by_label("Authentication code").fill(
        pyotp.TOTP(clinic.doctor.totp_secret).now())
    await doctor.get_by_role("button", name="Sign in").click()
    pending = doctor.get_by_role("region", name="Hospitals asking you to join")
    await expect(pending).to_contain_text(clinic.hospital_name)
    await pending.get_by_role("button", name="Accept").click()
    await expect(doctor.locator("#notice")).to_contain_text("Affiliation accepted")
    await expect(pending).to_be_hidden()
    roster = await ok(await api.get(f"/api/v1/hospitals/{clinic.hospital_id}/doctors",
                                    headers=await bearer(api, clinic.admin)))
    [link] = [d for d in roster if d["doctor_id"] == clinic.doctor_id]
    assert link["accepted_at"] is not None and link["department"] == "Cardiology"

    # The admin gives them weekly hours; the overview shows the week and the acceptance.
    hours = admin.get_by_role("form", name="Add weekly hours")
    await hours.get_by_label("Doctor").select_option(clinic.doctor_id)
    await hours.get_by_label("Day").select_option("0")
    await hours.get_by_label("From", exact=True).fill("09:00")
    await hours.get_by_label("To", exact=True).fill("13:00")
    await hours.get_by_role("button", name="Add hours").click()
    await expect(admin.locator("#notice")).to_have_text("Hours added on Monday.")
    await expect(row.locator(".affiliation")).to_have_text("accepted")
    await expect(row).to_contain_text("Mon 09:00–13:00")
    await shot(admin, "hospital-admin-roster")
    # The doctor's portal shows the new week after a reload.
    await doctor.reload()
    await expect(doctor.locator("#week")).to_contain_text("09:00–13:00")
