"""The /sos and /patient maps name hospitals in the reader's language (issue 25): OSM
name:<lang> where the hospital has one, else its own name; a language switch redraws them."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import pytest
from geoalchemy2.shape import from_shape
from playwright.async_api import expect
from shapely import Point
from sqlalchemy import delete

from facilities.models import Hospital
from tests.e2e.test_patient_app import register, signed_in_page
from tests.support.web import HELSINKI, PHONE, shot

URDU, SPANISH = "کیمپس ہسپتال", "Hospital del Campus"
SIZES = {"desktop": {"width": 1280, "height": 860}, "phone": PHONE}


@asynccontextmanager
async def hospital_with_names(url: str):
    """A hospital beside the caller carrying name:ur and name:es, for this test only (it is
    outside every region, so no other test's hospital list or dispatch sees it)."""
    from data.db import async_session_factory, make_async_engine
    from data.settings import DataSettings

    engine = make_async_engine(DataSettings(DATABASE_URL=url))
    hospital_id = uuid.uuid4()
    try:
        async with async_session_factory(engine)() as session:
            session.add(Hospital(
                id=hospital_id, name="Campus Hospital", region=None, is_emergency_enabled=False,
                location=from_shape(Point(HELSINKI["longitude"] + 0.001,
                                          HELSINKI["latitude"] + 0.0005), srid=4326),
                local_names={"ur": URDU, "es": SPANISH}))
            await session.commit()
        yield str(hospital_id)
    finally:
        async with async_session_factory(engine)() as session:
            await session.execute(delete(Hospital).where(Hospital.id == hospital_id))
            await session.commit()
        await engine.dispose()


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_sos_map_names_hospitals_in_urdu_then_english(new_context, web_database_url, size):
    async with hospital_with_names(web_database_url) as hospital_id:
        context = await new_context(viewport=SIZES[size], is_mobile=size == "phone",
                                    locale="ur-PK", geolocation=HELSINKI,
                                    permissions=["geolocation"])
        page = await context.new_page()
        async with page.expect_request(lambda r: "/api/v1/map/hospitals" in r.url
                                       and "lang=ur" in r.url):
            await page.goto("/sos")
        label = page.locator(f'.hospital-label [data-hospital="{hospital_id}"]')
        await expect(label).to_have_text(URDU)
        assert await label.get_attribute("dir") == "auto"
        # The demo's own hospitals have no name:ur: their own name.
        await expect(page.locator(".hospital-label span", has_text="(demo data)").first
                     ).to_be_attached()
        await shot(page, f"sos-hospital-names-ur-{size}")
        await page.locator("select.lang-switch").first.select_option("en")
        await expect(label).to_have_text("Campus Hospital")
        await shot(page, f"sos-hospital-names-en-{size}")


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_patient_map_names_hospitals_in_the_readers_language(api, new_context,
                                                                   web_database_url, size):
    async with hospital_with_names(web_database_url) as hospital_id:
        email, _ = await register(api)
        page = await signed_in_page(new_context, email, viewport=SIZES[size])
        label = page.locator(f'#hospital-map .hospital-label [data-hospital="{hospital_id}"]')
        await page.locator("#hospital-map").scroll_into_view_if_needed()
        await expect(label).to_have_text("Campus Hospital")
        await shot(page, f"patient-hospital-map-en-{size}")
        await page.get_by_label("Language / زبان / Idioma").select_option("ur")
        await expect(label).to_have_text(URDU)
        await shot(page, f"patient-hospital-map-ur-{size}")
        await page.get_by_label("Language / زبان / Idioma").select_option("es")
        await expect(label).to_have_text(SPANISH)
