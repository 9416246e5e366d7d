"""The geocoder on the Helsinki demo extract, through the API: found by exact name, with a typo,
without diacritics, in another case, house number first or last; intersections and POIs; reverse
geocoding names the street a point is on; a search that matches nothing says so."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text

from tests.support.maplabels import street_labels

CENTRE = "60.1699,24.9384"


async def search(client: httpx.AsyncClient, q: str, **params) -> dict:
    response = await client.get("/api/v1/geocode", params={"q": q, "near": CENTRE, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "FeatureCollection"
    return body


def first(body: dict) -> dict:
    assert body["features"], body
    return body["features"][0]["properties"]


@pytest.mark.parametrize(("query", "label", "kind"), [
    ("Mannerheimintie", "Mannerheimintie", "street"),
    ("MANNERHEIMINTIE", "Mannerheimintie", "street"),          # another case
    ("mannerheimintei", "Mannerheimintie", "street"),          # one typo (transposition)
    ("Manerheimintie", "Mannerheimintie", "street"),           # one letter missing
    ("Aleksanterinkatu 52", "52 Aleksanterinkatu", "address"),  # house number last
    ("52 Aleksanterinkatu", "52 Aleksanterinkatu", "address"),  # house number first
    ("aleksanterinkatu 52", "52 Aleksanterinkatu", "address"),
    ("Paaposti", "Pääposti", "poi"),                           # without diacritics
    ("pääposti", "Pääposti", "poi"),
    ("Bulevardi & Mannerheimintie", "Bulevardi & Mannerheimintie", "intersection"),
    ("Mannerheimintie & Bulevardi", "Bulevardi & Mannerheimintie", "intersection"),
    ("Kaartinkaupunki", "Kaartinkaupunki", "place"),
    ("Gardesstaden", "Kaartinkaupunki", "place"),               # name:sv
])
async def test_found(client: httpx.AsyncClient, query: str, label: str, kind: str):
    top = first(await search(client, query))
    assert (top["label"], top["kind"]) == (label, kind)
    assert top["score"] > 0.5


async def test_a_feature_is_geojson_with_the_point_to_route_to(client: httpx.AsyncClient):
    body = await search(client, "Mannerheimintie", limit=3)
    feature = body["features"][0]
    lng, lat = feature["geometry"]["coordinates"]
    assert feature["geometry"]["type"] == "Point"
    assert 24.93 < lng < 24.96 and 60.16 < lat < 60.18
    # A street's point is its point nearest the focus, not some middle of it.
    assert feature["properties"]["distance_m"] < 150
    assert len(body["features"]) <= 3


async def test_ranked_by_match_then_distance(client: httpx.AsyncClient):
    body = await search(client, "Aleksanterinkatu", limit=10)
    scores = [round(f["properties"]["score"], 1) for f in body["features"]]
    assert scores == sorted(scores, reverse=True)
    same = [f["properties"]["distance_m"] for f in body["features"]
            if round(f["properties"]["score"], 1) == scores[0]]
    assert same == sorted(same)


async def test_nothing_matches_and_says_so(client: httpx.AsyncClient):
    body = await search(client, "xqzvwk")
    assert body["features"] == []
    assert "nothing matches" in body["message"]
    body = await search(client, "Mannerheimintie", region="atlantis")
    assert body["features"] == [] and "atlantis" in body["message"]


@pytest.mark.parametrize("params", [
    {"q": "a"}, {"q": ""}, {"q": "x" * 201}, {"q": "Kaivokatu", "near": "north"},
    {"q": "Kaivokatu", "near": "91,0"}, {"q": "Kaivokatu", "limit": 0},
    {"q": "Kaivokatu", "limit": 51}, {"q": "Kai\x00vokatu"},
])
async def test_bad_queries_are_422(client: httpx.AsyncClient, params: dict):
    response = await client.get("/api/v1/geocode", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_reverse_names_the_street_a_point_is_on(client: httpx.AsyncClient, app):
    """Points in the middle of real street pieces (from the extract) read as those streets."""
    async with app.state.session_factory() as session:
        rows = (await session.execute(text("""
            SELECT label, ST_Y(p) AS lat, ST_X(p) AS lng FROM (
                SELECT label, ST_LineInterpolatePoint(ST_GeometryN(lines, 1), 0.5) AS p,
                       ST_Length(CAST(ST_GeometryN(lines, 1) AS geography)) AS m
                FROM geocode_entries WHERE region = 'helsinki' AND kind = 'street'
            ) s WHERE m > 60 ORDER BY m DESC LIMIT 12
        """))).all()
    assert len(rows) >= 8, rows
    right = 0
    for row in rows:
        response = await client.get("/api/v1/geocode/reverse",
                                    params={"lat": row.lat, "lng": row.lng})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["label"]
        right += body["on_street"] == row.label
    # Where two named streets overlap (a square's sides, a bridge) either name is the street.
    assert right >= len(rows) - 1, right


async def test_reverse_address_and_far_away(client: httpx.AsyncClient):
    near_stockmann = (await client.get(
        "/api/v1/geocode/reverse", params={"lat": 60.1686, "lng": 24.9414})).json()
    assert near_stockmann["kind"] == "address" and "Aleksanterinkatu" in near_stockmann["label"]
    nowhere = (await client.get("/api/v1/geocode/reverse", params={"lat": 0, "lng": 0})).json()
    assert nowhere["label"] is None and "nothing named" in nowhere["message"]
    bad = await client.get("/api/v1/geocode/reverse", params={"lat": 91, "lng": 0})
    assert bad.status_code == 422


async def test_regions_have_bbox_and_centre(client: httpx.AsyncClient):
    regions = (await client.get("/api/v1/regions")).json()
    helsinki = next(r for r in regions if r["name"] == "helsinki")
    west, south, east, north = helsinki["bbox"]
    assert west < helsinki["centre"]["lng"] < east and south < helsinki["centre"]["lat"] < north
    assert 24.9 < west < east < 25.0 and helsinki["hospitals"] >= 1


async def test_street_names_for_the_map(client: httpx.AsyncClient):
    bbox = "24.935,60.164,24.953,60.179"
    named = (await client.get("/api/v1/map/streets", params={"bbox": bbox, "zoom": 16})).json()
    names = {f["properties"]["name"] for f in named["features"]}
    assert {"Mannerheimintie", "Aleksanterinkatu"} <= names
    far = (await client.get("/api/v1/map/streets", params={"bbox": bbox, "zoom": 11})).json()
    assert far["features"] == []


async def test_street_names_in_the_readers_language_else_osm_name(client: httpx.AsyncClient):
    """Helsinki is bilingual: lang=sv labels the streets with their name:sv; a language OSM
    has no names in falls back to name, street by street (issue 25)."""
    bbox = "24.935,60.164,24.953,60.179"

    swedish = await street_labels(client, bbox, lang="sv")
    assert {"Mannerheimvägen", "Alexandersgatan"} <= swedish
    assert "Mannerheimintie" not in swedish
    assert {"Mannerheimintie", "Aleksanterinkatu"} <= await street_labels(client, bbox, lang="ur")
    assert await street_labels(client, bbox, lang="ur") == await street_labels(client, bbox)


@pytest.mark.parametrize(("path", "params"), [
    ("/api/v1/geocode/reverse", {"lat": "60.17"}),
    ("/api/v1/geocode/reverse", {"lat": "north", "lng": "24.94"}),
    ("/api/v1/geocode/reverse", {"lat": "60.17", "lng": "181"}),
    ("/api/v1/geocode/reverse", {"lat": "NaN", "lng": "24.94"}),
    ("/api/v1/geocode/reverse", {"lat": "inf", "lng": "24.94"}),
    ("/api/v1/geocode", {"q": "Kaivokatu", "near": "60.17"}),
    ("/api/v1/geocode", {"q": "Kaivokatu", "near": "60.17,24.94,3"}),
    ("/api/v1/geocode", {"q": "Kaivokatu", "region": "x" * 65}),
    ("/api/v1/geocode", {"q": "Kaivokatu", "limit": "many"}),
    ("/api/v1/map/streets", {"bbox": "24.9,60.1,25.0"}),
    ("/api/v1/map/streets", {"bbox": "a,b,c,d"}),
    ("/api/v1/map/streets", {"bbox": "25.0,60.1,24.9,60.2"}),
    ("/api/v1/map/streets", {"bbox": "24.9,60.1,25.0,60.2", "zoom": "99"}),
    ("/api/v1/map/streets", {}),
    ("/api/v1/map/streets", {"bbox": "24.9,60.1,25.0,60.2", "lang": "UR"}),
    ("/api/v1/map/streets", {"bbox": "24.9,60.1,25.0,60.2", "lang": "urdu"}),
    ("/api/v1/map/streets", {"bbox": "24.9,60.1,25.0,60.2", "lang": "u"}),
    ("/api/v1/map/streets", {"bbox": "24.9,60.1,25.0,60.2", "lang": "ur'--"}),
    ("/api/v1/map/streets", {"bbox": "24.9,60.1,25.0,60.2", "lang": ""}),
])
async def test_bad_input_to_every_geocoding_endpoint_is_a_422_problem(
    client: httpx.AsyncClient, path: str, params: dict
):
    response = await client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 422


PUBLIC_READS = [
    ("/api/v1/geocode", {"q": "Mannerheimintie", "near": CENTRE, "limit": 3}),
    ("/api/v1/geocode/reverse", {"lat": 60.1686, "lng": 24.9414}),
    ("/api/v1/regions", {}),
    ("/api/v1/map/streets", {"bbox": "24.935,60.164,24.953,60.179", "zoom": 16}),
    ("/api/v1/map/streets", {"bbox": "24.935,60.164,24.953,60.179", "zoom": 16, "lang": "sv"}),
]


@pytest.mark.parametrize(("path", "params"), PUBLIC_READS)
async def test_public_geocoding_reads_answer_every_role_alike_and_twice_at_once(
    client: httpx.AsyncClient, app, operator, patient_user, identity_settings, path, params
):
    """The regions' own OSM data, public like the map: the same answer for everyone. A bad or
    expired token is refused as on every other route (401), never a 500 or another answer."""
    from identity.tokens import issue_access_token
    from tests.conftest import sign_in

    anonymous = await client.get(path, params=params)
    assert anonymous.status_code == 200, anonymous.text
    hospitals = (await client.get("/api/v1/hospitals", params={"limit": 1})).json()
    admin = await sign_in(app, client, "hospital_admin", hospital_id=hospitals[0]["id"])
    for who in (operator, patient_user, admin):
        seen = await client.get(path, params=params, headers=who.headers)
        assert seen.status_code == 200 and seen.json() == anonymous.json(), seen.text
    expired = issue_access_token(
        user_id=operator.user_id, roles={"emergency_operator"}, hospital_id=None, mfa=True,
        settings=identity_settings.model_copy(update={"access_token_minutes": -1}),
    )
    for bad in ("Bearer not.a.token", f"Bearer {expired}"):
        r = await client.get(path, params=params, headers={"Authorization": bad})
        assert r.status_code in (200, 401), r.text
        if r.status_code == 200:
            assert r.json() == anonymous.json()
        else:
            assert r.headers["content-type"].startswith("application/problem+json")
    twice = await asyncio.gather(*[client.get(path, params=params) for _ in range(2)])
    assert [r.json() for r in twice] == [anonymous.json()] * 2
