"""Two regions, imported as ``make run`` and ``make run REGION=...`` import them (the CLI): the
Helsinki demo and a small harbour town written here with pyosmium. ``GET /api/v1/regions`` lists
both; the console and the SOS page open on a region (the largest, the caller's, the one asked
for or the one last chosen, never simply the first name) and offer a picker that moves the map.

The hospital panel has no map: it is its hospital's, so it has no region to open on.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from identity.settings import IdentitySettings
from identity.tokens import issue_access_token
from tests.conftest import ADMIN_URL, REDIS_URL
from tests.support.osm_fixtures import OsmFixture, position
from tests.support.servers import LIFELINE, ROOT, Server
from tests.support.web import PHONE, Account, _create_accounts, bearer, shot, sign_in_page

TOWN = "harbourtown"
EAST_WEST = ["Quay Street", "Harbour Road", "Mill Lane", "Church Street"]
NORTH_SOUTH = ["First Avenue", "Second Avenue", "Third Avenue", "Fourth Avenue"]


def harbour_town(path: Path) -> Path:
    """A 4 x 4 grid of named streets 300 m apart, a few addresses and a hospital."""
    fx = OsmFixture()
    for i in range(4):
        for j in range(4):
            fx.node(f"n{i}{j}", i * 300, j * 300)
    for j, name in enumerate(EAST_WEST):
        fx.way(f"ew{j}", [f"n{i}{j}" for i in range(4)], {"highway": "residential", "name": name})
    for i, name in enumerate(NORTH_SOUTH):
        fx.way(f"ns{i}", [f"n{i}{j}" for j in range(4)], {"highway": "residential", "name": name})
    fx.node("h", 450, 330, amenity="hospital", name="Harbour Hospital", emergency="yes")
    fx.node("a1", 120, 15, addr__housenumber="12", addr__street="Quay Street")
    fx.node("a2", 420, 315, addr__housenumber="3", addr__street="Harbour Road")
    return fx.write(path)


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([LIFELINE, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A database of its own with both regions imported through the CLI, and its server."""
    name = f"lifeline_regions_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace(
        "postgresql://", "postgresql+psycopg://", 1)
    env = dict(os.environ)
    # What `make run` gives the CLI and the server; a stream prefix of its own (see conftest).
    env.update(DATABASE_URL=url, REDIS_URL=REDIS_URL,
               LIFELINE_REALTIME_STREAM_PREFIX=f"lifeline:regions:{os.getpid()}:{uuid.uuid4().hex[:6]}:")
    pbf = harbour_town(tmp_path_factory.mktemp("osm") / f"{TOWN}.osm.pbf")
    server = Server(env=env)
    try:
        cli(env, "db", "upgrade")
        cli(env, "region", "import-demo")
        out = cli(env, "region", "import", "--pbf", str(pbf), "--name", TOWN, "--if-missing")
        assert "Harbour Hospital" in out or "hospitals" in out
        server.start()
        server.wait_ready()
        yield server, url
    finally:
        server.stop()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def town_accounts(two_regions) -> dict[str, Account]:
    return await _create_accounts(two_regions[1])


@pytest_asyncio.fixture(loop_scope="session")
async def town_api(two_regions) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=two_regions[0].http, timeout=30) as client:
        yield client


def town_box() -> tuple[float, float, float, float]:
    (south, west), (north, east) = position(0, 0), position(900, 900)
    return west, south, east, north


async def test_regions_lists_both_with_box_and_centre_for_everyone(town_api, town_accounts):
    anonymous = (await town_api.get("/api/v1/regions")).json()
    by_name = {r["name"]: r for r in anonymous}
    assert set(by_name) == {"helsinki", TOWN}
    west, south, east, north = by_name[TOWN]["bbox"]
    w, s, e, n = town_box()
    assert abs(west - w) < 1e-3 and abs(south - s) < 1e-3 and abs(east - e) < 1e-3
    assert abs(north - n) < 1e-3
    centre = by_name[TOWN]["centre"]
    assert west < centre["lng"] < east and south < centre["lat"] < north
    assert by_name[TOWN]["hospitals"] == 1 and by_name["helsinki"]["hospitals"] > 1
    assert by_name["helsinki"]["road_nodes"] > by_name[TOWN]["road_nodes"] > 0
    # Public data (the regions' own OSM boxes): the same for every role, and a bad token on a
    # public read is not an error of the read.
    for account in town_accounts.values():
        seen = await town_api.get("/api/v1/regions", headers=await bearer(town_api, account))
        assert seen.status_code == 200 and seen.json() == anonymous
    expired = issue_access_token(
        user_id=town_accounts["emergency_operator"].user_id, roles={"emergency_operator"},
        hospital_id=None, mfa=True,
        settings=IdentitySettings().model_copy(update={"access_token_minutes": -1}),
    )
    for header in ("Bearer not.a.token", f"Bearer {expired}", "garbage"):
        r = await town_api.get("/api/v1/regions", headers={"Authorization": header})
        assert r.status_code in (200, 401), r.text
        if r.status_code == 401:
            assert r.headers["content-type"].startswith("application/problem+json")
    # Twice at once: the same answer.
    both = await asyncio.gather(*[town_api.get("/api/v1/regions") for _ in range(2)])
    assert [r.json() for r in both] == [anonymous, anonymous]
    # A search in the town finds its streets; in the other region it does not.
    found = (await town_api.get("/api/v1/geocode", params={"q": "harbor road",
                                                           "region": TOWN})).json()
    assert found["features"][0]["properties"]["label"] == "Harbour Road"
    elsewhere = (await town_api.get("/api/v1/geocode", params={"q": "Harbour Road",
                                                               "region": "helsinki"})).json()
    assert all(f["properties"]["label"] != "Harbour Road" for f in elsewhere["features"])


async def labels_on(page) -> set[str]:
    return set(await page.locator(".street-label").all_inner_texts())


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_the_console_opens_on_a_region_and_the_picker_moves_it(
    browser: Browser, two_regions, town_accounts, size
):
    server, _ = two_regions
    viewport = {"width": 1400, "height": 900} if size == "desktop" else PHONE
    context = await browser.new_context(base_url=server.http, viewport=viewport)
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        await page.goto("/console")
        await sign_in_page(page, town_accounts["emergency_operator"])
        the_map = page.locator("#console-map")
        # The largest region first (not the first name in the alphabet: "harbourtown").
        await expect(the_map).to_have_attribute("data-region", "helsinki")
        picker = page.locator("#region-picker")
        await expect(picker).to_be_visible()
        assert await picker.locator("option").all_inner_texts() == [TOWN, "helsinki"]
        if size == "desktop":  # on a phone the whole region fits below zoom 15: no names yet
            await expect(page.locator(".street-label span").first).to_be_visible()
        assert "Harbour Road" not in await labels_on(page)
        await shot(page, f"regions-console-helsinki-{size}")

        await picker.select_option(TOWN)
        await expect(the_map).to_have_attribute("data-region", TOWN)
        hospital = page.locator(".hospital-label span", has_text="Harbour Hospital")
        await expect(hospital).to_be_visible()
        if size == "desktop":
            street = page.locator(".street-label span", has_text="Harbour Road")
            await expect(street).to_be_visible()
        assert not await labels_on(page) & {"Mannerheimintie", "Aleksanterinkatu"}
        await shot(page, f"regions-console-{TOWN}-{size}")
        # The choice is remembered; ?region= in the address wins over it.
        await page.reload()
        await expect(the_map).to_have_attribute("data-region", TOWN)
        await expect(picker).to_have_value(TOWN)
        await page.goto("/console?region=helsinki")
        await expect(the_map).to_have_attribute("data-region", "helsinki")
    finally:
        await context.close()


async def test_the_sos_page_opens_on_the_callers_region_with_a_picker(browser: Browser,
                                                                       two_regions):
    server, _ = two_regions
    lat, lng = position(450, 450)
    context = await browser.new_context(
        base_url=server.http, viewport=PHONE, permissions=["geolocation"],
        geolocation={"latitude": lat, "longitude": lng, "accuracy": 20},
    )
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        await page.goto("/sos")
        await expect(page.locator(".street-label span", has_text="Harbour Road")).to_be_visible()
        # The picker names the region the caller is in (the map went to their position).
        await expect(page.locator("#sos-region")).to_have_value(TOWN)
        await expect(page.locator("#sos-map")).to_have_attribute("data-region", TOWN)
        await shot(page, "regions-sos-caller-in-town-phone")
    finally:
        await context.close()
    # No position: the largest region, and the picker moves the map.
    context = await browser.new_context(base_url=server.http, viewport=PHONE)
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        await page.goto("/sos")
        the_map = page.locator("#sos-map")
        await expect(the_map).to_have_attribute("data-region", "helsinki")
        await page.locator("#sos-region").select_option(TOWN)
        await expect(the_map).to_have_attribute("data-region", TOWN)
        # A phone shows the whole town below zoom 15, where streets are not named yet: zoom in.
        await page.get_by_role("button", name="Zoom in").click()
        await expect(page.locator(".street-label span", has_text="Avenue").first).to_be_visible()
        await shot(page, "regions-sos-picked-town-phone")
    finally:
        await context.close()
