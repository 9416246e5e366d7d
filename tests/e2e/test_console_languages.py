"""The operators' console in English, Urdu (right to left) and Spanish (issue 25): the browser's
language chooses, a live case arrives and is worked with the keyboard alone, server refusals
read in the operator's language, axe-core finds no serious violation, and every view is shot
on a desktop and a phone."""

from __future__ import annotations

import uuid

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from tests.support.axe import assert_no_serious_violations
from tests.support.web import PHONE, Account, _create_accounts, add_unit, bearer, shot

DESKTOP = {"width": 1400, "height": 900}
SIZES = {"desktop": {"viewport": DESKTOP}, "phone": {"viewport": PHONE, "is_mobile": True}}
LOCALES = {"en": "en-GB", "ur": "ur-PK", "es": "es-ES"}
WORDS = {
    "en": {"live": "live", "queue": "Open cases", "symptom": "chest pain", "raised": "raised",
           "triaged": "triaged", "dispatched": "dispatched", "units": "Recommended units",
           "done": "Triaged.", "signin": "Operator sign-in",
           "wrong": "Wrong email, password or authentication code.",
           "new_call": "New call", "where": "Where is the patient?",
           "outside": "outside every service area"},
    "ur": {"live": "براہِ راست", "queue": "کھلے کیس", "symptom": "سینے میں درد", "raised": "موصول",
           "triaged": "درجہ بند", "dispatched": "روانہ", "units": "تجویز کردہ یونٹ",
           "done": "درجہ بندی ہو گئی۔", "signin": "آپریٹر سائن اِن",
           "wrong": "ای میل، پاس ورڈ یا تصدیقی کوڈ غلط ہے۔",
           "new_call": "نئی کال", "where": "مریض کہاں ہے؟",
           "outside": "سروس کے ہر علاقے سے باہر"},
    "es": {"live": "en directo", "queue": "Casos abiertos", "symptom": "dolor en el pecho",
           "raised": "recibido", "triaged": "clasificado", "dispatched": "despachado",
           "units": "Unidades recomendadas", "done": "Clasificado.", "signin": "Acceso de operador",
           "wrong": "Correo, contraseña o código de autenticación incorrectos.",
           "new_call": "Nueva llamada", "where": "¿Dónde está el paciente?",
           "outside": "Fuera de toda área de servicio"},
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def operator_account(web_server, web_database_url) -> Account:
    """An operator of this module's own: its ten recovery codes are not shared with other tests."""
    return (await _create_accounts(web_database_url))["emergency_operator"]


async def sign_in_by_field(page: Page, account: Account) -> None:
    """The console's sign-in form by its fields (the labels are in the page's language)."""
    await page.locator("#email").fill(account.email)
    await page.locator("#password").fill(account.password)
    await page.locator("#totp").fill(account.recovery_codes.pop())
    await page.locator("#login button[type=submit]").click()


async def laid_out(page: Page, lang: str) -> None:
    """The browser's language chose the page's; Urdu reads right to left; nothing spills over."""
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    await expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ur" else "ltr")
    width = await page.evaluate("document.documentElement.scrollWidth")
    wide = await page.evaluate("""() => [...document.querySelectorAll("main *, header *")]
        .filter((e) => e.getBoundingClientRect().right > innerWidth + 1
          && !e.closest(".leaflet-container"))
        .slice(0, 8).map((e) => `${e.tagName}#${e.id}.${e.className}`)""")
    assert width <= page.viewport_size["width"], f"scrolls sideways ({width} px): {wide}"
    out = await page.evaluate("""() => [...document.querySelectorAll(".card *")].filter((e) => {
        const card = e.closest(".card").getBoundingClientRect(), box = e.getBoundingClientRect();
        return box.width && !e.closest(".leaflet-container, .sr-only")
          && (box.left < card.left - 1 || box.right > card.right + 1);
      }).slice(0, 8)
        .map((e) => `${e.tagName}#${e.id}.${e.className}: ${e.textContent.trim().slice(0, 30)}`)""")
    assert not out, f"sticks out of its card: {out}"


async def raise_sos(api: httpx.AsyncClient, lat: float = 60.1699, lng: float = 24.9384) -> str:
    response = await api.post("/api/v1/emergency/cases", json={
        "lat": lat, "lng": lng, "symptom_category": "chest_pain",
        "reporter_phone": f"+35840{uuid.uuid4().int % 10_000_000:07d}",
    })
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.mark.parametrize("lang", ["en", "ur", "es"])
async def test_console_in_each_language_works_a_live_case_by_keyboard(
    lang, api: httpx.AsyncClient, operator_account, new_context
):
    words = WORDS[lang]
    operator = await bearer(api, operator_account)
    await add_unit(api, operator)
    context = await new_context(viewport=DESKTOP, locale=LOCALES[lang])
    page = await context.new_page()
    streets: list[str] = []
    page.on("request", lambda r: streets.append(r.url) if "/map/streets" in r.url else None)
    await page.goto("/console")

    # The sign-in screen: in the language, a wrong password said in it too (common.js).
    await expect(page.locator("#login-title")).to_have_text(words["signin"])
    await laid_out(page, lang)
    await assert_no_serious_violations(page)
    await page.locator("#email").fill(operator_account.email)
    await page.locator("#password").fill("not the password at all")
    await page.locator("#totp").fill("000000")
    await page.locator("#login button[type=submit]").click()
    await expect(page.locator("#login .form-error")).to_have_text(words["wrong"])
    await shot(page, f"console-{lang}-signin-desktop")
    await sign_in_by_field(page, operator_account)

    await expect(page.locator("#live")).to_have_text(words["live"])
    await expect(page.get_by_role("heading", name=words["queue"])).to_be_visible()
    the_map = page.locator("#console-map")
    # Map controls on the reading side; street names asked for in the operator's language.
    await expect(the_map).to_have_attribute("data-controls", "right" if lang == "ur" else "left")
    side = "right" if lang == "ur" else "left"
    await expect(page.locator(f".leaflet-top.leaflet-{side} .leaflet-control-zoom")).to_be_visible()
    zoom_in = {"en": "Zoom in", "ur": "قریب کریں", "es": "Acercar"}[lang]
    await expect(page.get_by_role("button", name=zoom_in)).to_be_visible()
    await expect(the_map).to_have_attribute("data-street-labels", lambda_positive())
    assert any(f"lang={lang}" in url for url in streets), streets

    # A case arrives live (no reload) and is shown in the language.
    case_id = await raise_sos(api)
    entry = page.locator(f'#queue button[data-case="{case_id}"]')
    await expect(entry).to_contain_text(words["symptom"], timeout=10_000)
    await expect(entry).to_contain_text(words["raised"])
    await entry.click()
    await expect(page.locator("#detail-status")).to_have_text(words["raised"])
    await expect(page.get_by_role("heading", name=words["units"])).to_be_visible()
    await page.keyboard.press("t")
    await expect(page.locator("#notice")).to_have_text(words["done"])
    await expect(page.locator("#detail-status")).to_have_text(words["triaged"])
    await laid_out(page, lang)
    await assert_no_serious_violations(page)
    await shot(page, f"console-{lang}-case-desktop")

    # d dispatches; with an Urdu keyboard layout the same physical key does it.
    if lang == "ur":
        await page.evaluate("""() => document.dispatchEvent(new KeyboardEvent("keydown",
            { key: "ڈ", code: "KeyD", bubbles: true, cancelable: true }))""")
    else:
        await page.keyboard.press("d")
    await expect(page.locator("#detail-status")).to_have_text(words["dispatched"])

    # n opens the call panel in the language; Esc closes it.
    await page.keyboard.press("n")
    await expect(page.locator("#newcall-title")).to_have_text(words["new_call"])
    await expect(page.get_by_label(words["where"])).to_be_focused()
    await assert_no_serious_violations(page)
    await shot(page, f"console-{lang}-newcall-desktop")
    await page.keyboard.press("Escape")
    await expect(page.locator("#newcall")).to_be_hidden()

    # A phone call taken with the keyboard alone, in the language: search, arrows + Enter
    # pick, the next symptom (chest pain), callback number, triage now (critical), Enter.
    await page.keyboard.press("n")
    await page.keyboard.type("aleksanterinkatu 52", delay=20)
    await expect(page.locator("#call-results li[role=option]").first).to_contain_text(
        "52 Aleksanterinkatu")
    await page.keyboard.press("Enter")
    await expect(page.locator("#call-symptom")).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Tab")
    await page.keyboard.type(f"+35840{uuid.uuid4().int % 10_000_000:07d}")
    await page.keyboard.press("Tab")
    await page.keyboard.press("ArrowDown")
    await shot(page, f"console-{lang}-newcall-filled-desktop")
    await page.keyboard.press("Enter")
    await expect(page.locator("#newcall")).to_be_hidden()
    await expect(page.locator("#detail-status")).to_have_text(words["triaged"])
    await expect(page.locator("#detail h2")).to_contain_text(words["symptom"])
    await expect(page.locator("#detail-address")).to_contain_text("Aleksanterinkatu")

    # The server's routing advice (an SOS far outside the region) said in the language.
    far = await raise_sos(api, lat=33.6844, lng=73.0479)
    await page.locator(f'#queue button[data-case="{far}"]').click()
    await expect(page.locator("#detail p.alert").first).to_contain_text(words["outside"])

    # A server refusal (problem+json) in the operator's language, by its code; English keeps
    # the server's own detail.
    said = await page.evaluate("""async () => {
        const { api } = await import("/static/common.js");
        try { await api("/api/v1/emergency/cases/00000000-0000-4000-8000-000000000000"); }
        catch (e) { return { message: e.message, code: e.problem.code, detail: e.problem.detail,
                             words: window.CATALOGUE_ERRORS[window.I18N.lang] }; }
        return null;
    }""")
    assert said and said["code"], said
    expected = said["detail"] if lang == "en" else said["words"][f"code.{said['code']}"]
    assert said["message"] == expected


def lambda_positive():
    import re

    return re.compile(r"^[1-9]\d*$")


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_console_switches_language_in_place_and_passes_axe(
    size, api: httpx.AsyncClient, operator_account, new_context
):
    operator = await bearer(api, operator_account)
    await add_unit(api, operator)
    page = await (await new_context(locale="en-GB", **SIZES[size])).new_page()
    await page.goto("/console")
    await sign_in_by_field(page, operator_account)
    await expect(page.locator("#live")).to_have_text("live")
    case_id = await raise_sos(api)
    entry = page.locator(f'#queue button[data-case="{case_id}"]')
    await entry.click()
    await expect(page.locator("#detail-status")).to_have_text("raised")
    await assert_no_serious_violations(page)
    await laid_out(page, "en")
    await shot(page, f"console-en-{size}")
    switch = page.get_by_label("Language / زبان / Idioma")
    for lang in ("ur", "es"):
        await switch.select_option(lang)
        await expect(page.locator("#live")).to_have_text(WORDS[lang]["live"])
        await expect(entry).to_contain_text(WORDS[lang]["symptom"])
        await expect(page.locator("#detail-status")).to_have_text(WORDS[lang]["raised"])
        await expect(page.get_by_role("heading", name=WORDS[lang]["units"])).to_be_visible()
        await laid_out(page, lang)
        await assert_no_serious_violations(page)
        await shot(page, f"console-{lang}-{size}")
    # The choice is remembered: the next visit opens in Spanish whatever the browser says.
    await page.reload()
    await expect(page.locator("#live")).to_have_text(WORDS["es"]["live"])
    await switch.select_option("en")
