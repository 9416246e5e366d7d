"""The SOS page never drops a queued SOS before the server acknowledged it (issue 18, item 1).

It used to discard the queued SOS when the server refused the sign-in it was sent with and the
token could not be refreshed, and on any other 4xx.
"""

from __future__ import annotations

import json

from playwright.async_api import Route, expect

from tests.e2e.test_sos_page import cases_of, fill_sos, sos_context
from tests.support.web import bearer, shot

PENDING = "lifeline.sos.pending"


async def test_a_refused_sign_in_is_resent_anonymously_not_dropped(api, accounts, new_context):
    operator = await bearer(api, accounts["emergency_operator"])
    phone = "+358409990071"
    context = await sos_context(new_context)
    page = await context.new_page()
    await fill_sos(page, phone)
    # The patient's tokens went stale while the page was open (both access and refresh).
    await page.evaluate("""() => {
        sessionStorage.setItem('lifeline.access', 'expired.access.token');
        sessionStorage.setItem('lifeline.refresh', 'revoked-refresh-token');
    }""")
    sent: list[str | None] = []

    async def refuse_signed_in(route: Route) -> None:
        sent.append(route.request.headers.get("authorization"))
        if route.request.headers.get("authorization"):
            # As a server that refuses the credentials would (this one accepts and flags them).
            await route.fulfill(status=401, content_type="application/problem+json",
                                body=json.dumps({"status": 401, "code": "invalid_token",
                                                 "title": "Authentication required"}))
        else:
            await route.continue_()

    await page.route("**/api/v1/emergency/cases", refuse_signed_in)
    await page.get_by_role("button", name="SOS").click()
    await expect(page.locator("#follow")).to_be_visible(timeout=20_000)
    await expect(page.locator("#case-status")).to_have_text("Request received")
    await shot(page, "sos-resent-anonymously")
    assert sent[0] is not None and sent[-1] is None, sent
    assert len(await cases_of(api, operator, phone)) == 1
    assert await page.evaluate(f"localStorage.getItem('{PENDING}')") is None


async def test_a_refused_sos_stays_queued_until_sent_again(api, accounts, new_context):
    operator = await bearer(api, accounts["emergency_operator"])
    phone = "+358409990072"
    context = await sos_context(new_context)
    page = await context.new_page()
    await fill_sos(page, phone)
    refused: list[int] = []

    async def refuse_once(route: Route) -> None:
        if not refused:
            refused.append(422)
            await route.fulfill(status=422, content_type="application/problem+json",
                                body=json.dumps({"status": 422, "code": "validation_error",
                                                 "detail": "invalid value for: lat"}))
        else:
            await route.continue_()

    await page.route("**/api/v1/emergency/cases", refuse_once)
    await page.get_by_role("button", name="SOS").click()
    # Wait for the page's own record of the refusal first (a loaded machine can take seconds),
    # so a failure says whether the refusal never came or the page showed it wrongly.
    await page.wait_for_function(
        f"(JSON.parse(localStorage.getItem('{PENDING}') || 'null') || {{}}).refused",
        timeout=20_000)
    assert refused == [422]
    await expect(page.locator("#notice")).to_contain_text("Not accepted yet")
    await shot(page, "sos-refused-kept")
    queued = json.loads(await page.evaluate(f"localStorage.getItem('{PENDING}')"))
    assert queued["body"]["reporter_phone"] == phone and queued["refused"]
    assert await cases_of(api, operator, phone) == []
    await page.get_by_role("button", name="SOS").click()  # the caller presses SOS again
    await expect(page.locator("#follow")).to_be_visible(timeout=20_000)
    assert len(await cases_of(api, operator, phone)) == 1
