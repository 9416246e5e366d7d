"""Server refusals (problem+json) read in the page's language on every page that uses common.js,
by their stable ``code``; English keeps the server's own ``detail`` (issue 25). The shared
sign-in error is translated too."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import expect

from tests.support.axe import assert_no_serious_violations
from tests.support.web import PHONE, shot

DESKTOP = {"width": 1280, "height": 800}
LOCALES = {"en": "en-GB", "ur": "ur-PK", "es": "es-ES"}
PAGES = ["/console", "/sos", "/patient", "/doctor", "/hospital", "/crew/not-a-real-token"]
#: A refusal every page can provoke without signing in: an unknown case, asked for without a token.
REFUSE = """async () => {
    const { api } = await import("/static/common.js");
    const unknown = "/api/v1/emergency/cases/00000000-0000-4000-8000-000000000000";
    try { await api(unknown, { auth: false }); }
    catch (e) {
      return { message: e.message, status: e.status, code: e.problem.code, detail: e.problem.detail,
               lang: window.I18N.lang, words: (window.CATALOGUE_ERRORS || {})[window.I18N.lang] };
    }
    return null;
}"""


@pytest.mark.parametrize("lang", ["en", "ur", "es"])
@pytest.mark.parametrize("path", PAGES)
async def test_a_refusal_reads_in_the_page_language(path, lang, new_context):
    page = await (await new_context(viewport=PHONE, locale=LOCALES[lang])).new_page()
    await page.goto(path)
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    said = await page.evaluate(REFUSE)
    assert said and said["status"] in (401, 403, 404) and said["code"], said
    assert said["lang"] == lang
    if lang == "en":
        assert said["message"] == said["detail"]
    else:
        assert said["message"] == said["words"][f"code.{said['code']}"]
        assert said["message"] != said["detail"]


async def test_an_unknown_code_falls_back_to_the_english_detail(new_context):
    page = await (await new_context(locale="ur-PK")).new_page()
    await page.goto("/sos")
    text = await page.evaluate("""async () => {
        const { ApiError } = await import("/static/common.js");
        await import("/static/i18n/errors.js");
        return new ApiError(409, { code: "brand_new_code", detail: "something new" }).message;
    }""")
    assert text == "something new"


@pytest.mark.parametrize("lang", ["en", "ur", "es"])
@pytest.mark.parametrize("path", ["/console", "/hospital", "/doctor"])
async def test_the_shared_sign_in_error_is_translated(path, lang, new_context):
    for size, viewport in {"desktop": DESKTOP, "phone": PHONE}.items():
        context = await new_context(viewport=viewport, is_mobile=size == "phone",
                                    locale=LOCALES[lang])
        page = await context.new_page()
        await page.goto(path)
        # An address of its own: the sign-in throttle counts failures per account and address.
        await page.locator("#email").fill(f"nobody-{uuid.uuid4().hex[:8]}@lifeline.test")
        await page.locator("#password").fill("not the password")
        await page.locator("#totp").fill("123456")
        await page.locator("#login button[type=submit]").click()
        wrong = await page.evaluate(
            "() => window.CATALOGUE_ERRORS?.[window.I18N.lang]?.['signin.wrong']")
        english = "Wrong email, password or authentication code."
        assert wrong and (wrong == english) == (lang == "en"), wrong
        await expect(page.locator("#login .form-error")).to_have_text(wrong)
        await assert_no_serious_violations(page)
        await shot(page, f"signin-error-{path.strip('/')}-{lang}-{size}")
