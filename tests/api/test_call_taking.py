"""Calls taken by an operator (source phone), the address of every case, and duplicate calls:
flagged within 200 m / 15 min of an open case, linked or dismissed (both audited)."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from identity.tokens import issue_access_token
from tests.conftest import sign_in, sos_body

CASES = "/api/v1/emergency/cases"
#: Not the global generator: pytest-randomly reseeds that before every test, which would put
#: every test's "own" spot on the same point.
_places = random.SystemRandom()


def spot() -> tuple[float, float]:
    """A random point inside the demo region, away from the default SOS location of other tests."""
    return 60.1655 + _places.random() * 0.010, 24.9400 + _places.random() * 0.010


def moved(lat: float, lng: float, north_m: float) -> tuple[float, float]:
    return lat + north_m / 111_195, lng


async def raise_case(client, headers=None, **overrides) -> dict:
    r = await client.post(CASES, json=sos_body(**overrides), headers=headers or {})
    assert r.status_code == 201, r.text
    return r.json()


async def test_an_operator_takes_a_call_and_triages_it_at_once(client, operator):
    lat, lng = spot()
    case = await raise_case(client, operator.headers, lat=lat, lng=lng, source="phone",
                            severity="critical", symptom_category="cardiac_arrest")
    assert case["source"] == "phone" and case["status"] == "triaged"
    assert case["severity"] == "critical"
    read = (await client.get(f"{CASES}/{case['id']}", headers=operator.headers)).json()
    assert [e["action"] for e in read["events"]] == ["raise", "triage"]
    assert read["address"], "every case carries an address from the region's own OSM data"


async def test_only_an_operator_sets_source_phone_or_severity(client, patient_user):
    lat, lng = spot()
    for headers in ({}, patient_user.headers):
        for field, value in (("source", "phone"), ("severity", "low")):
            r = await client.post(CASES, json=sos_body(lat=lat, lng=lng, **{field: value}),
                                  headers=headers)
            assert r.status_code == 422, r.text
            assert r.json()["code"] == "operator_field"
            assert r.json()["errors"][0]["field"] == field
    ok = await raise_case(client, lat=lat, lng=lng, source="app")
    assert ok["source"] == "app"


async def test_every_sos_has_an_address(client):
    case = await raise_case(client, lat=60.1686, lng=24.9414)
    assert "Aleksanterinkatu" in case["address"]


async def test_a_second_call_nearby_is_flagged_then_linked_and_closes_with_the_first(
    client, operator, app, identity_settings
):
    lat, lng = spot()
    first = await raise_case(client, operator.headers, lat=lat, lng=lng, source="phone")
    far = await raise_case(client, lat=moved(lat, lng, 400)[0], lng=lng)
    assert far["possible_duplicate_of"] != first["id"]
    # At the first call's very point: other tests' open cases (random points in the same small
    # region) may lie within 200 m, but never nearer than 0 m.
    second = await raise_case(client, lat=lat, lng=lng)
    assert second["possible_duplicate_of"] == first["id"]

    link = f"{CASES}/{second['id']}/link"
    for body, status, code in [
        ({"to": second["id"]}, 422, "link_to_self"),
        ({"to": str(uuid.uuid4())}, 404, "case_not_found"),
        ({"to": "not-a-uuid"}, 422, None),
        ({}, 422, None),
        ({"to": first["id"], "extra": 1}, 422, None),
    ]:
        r = await client.post(link, json=body, headers=operator.headers)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        if code:
            assert r.json()["code"] == code
    # Without a token, as a patient, with an expired or garbage token: refused.
    assert (await client.post(link, json={"to": first["id"]})).status_code == 401
    patient = await sign_in(app, client, "patient")
    assert (await client.post(link, json={"to": first["id"]},
                              headers=patient.headers)).status_code == 403
    garbage = {"Authorization": "Bearer not.a.token"}
    assert (await client.post(link, json={"to": first["id"]}, headers=garbage)).status_code == 401
    expired = {"Authorization": "Bearer " + issue_access_token(
        user_id=operator.user_id, roles={"emergency_operator"}, hospital_id=None, mfa=True,
        settings=identity_settings.model_copy(update={"access_token_minutes": -1}),
    )}
    assert (await client.post(link, json={"to": first["id"]}, headers=expired)).status_code == 401

    # Twice at once: both answer the same linked case, one audited link.
    answers = await asyncio.gather(*[
        client.post(link, json={"to": first["id"]}, headers=operator.headers) for _ in range(2)
    ])
    statuses = sorted(r.status_code for r in answers)
    assert statuses[0] == 200 and statuses[1] in (200, 409), [r.text for r in answers]
    linked = (await client.get(f"{CASES}/{second['id']}", headers=operator.headers)).json()
    assert linked["linked_to"] == first["id"] and linked["possible_duplicate_of"] is None
    assert [e["action"] for e in linked["events"]].count("link") == 1
    # A third call there is flagged as the first's duplicate, not the linked one's.
    third = await raise_case(client, lat=lat, lng=lng)
    assert third["possible_duplicate_of"] == first["id"]
    # The primary is cancelled: the linked case ends with it, saying why.
    r = await client.post(f"{CASES}/{first['id']}/cancel", json={"reason": "false alarm"},
                          headers=operator.headers)
    assert r.status_code == 200, r.text
    ended = (await client.get(f"{CASES}/{second['id']}", headers=operator.headers)).json()
    assert ended["status"] == "cancelled" and first["id"] in ended["cancel_reason"]
    r = await client.post(link, json={"to": first["id"]}, headers=operator.headers)
    assert r.status_code == 409


async def test_dismissing_the_flag_is_audited(client, operator):
    lat, lng = spot()
    first = await raise_case(client, lat=lat, lng=lng)
    second = await raise_case(client, lat=lat, lng=lng)  # the very point: see above
    assert second["possible_duplicate_of"] == first["id"]
    dismiss = f"{CASES}/{second['id']}/duplicate/dismiss"
    r = await client.post(dismiss, headers=operator.headers)
    assert r.status_code == 200 and r.json()["possible_duplicate_of"] is None
    again = await client.post(dismiss, headers=operator.headers)
    assert again.status_code == 409 and again.json()["code"] == "not_flagged"
    read = (await client.get(f"{CASES}/{second['id']}", headers=operator.headers)).json()
    assert [e["action"] for e in read["events"]] == ["raise", "not_duplicate"]
    assert (await client.post(dismiss)).status_code == 401


@pytest.mark.parametrize("path", ["link", "duplicate/dismiss"])
async def test_unknown_case_is_404(client, operator, path):
    body = {"to": str(uuid.uuid4())} if path == "link" else None
    r = await client.post(f"{CASES}/{uuid.uuid4()}/{path}", json=body, headers=operator.headers)
    assert r.status_code == 404 and r.json()["code"] == "case_not_found"


async def test_a_station_outside_every_region_is_refused_clearly(client, operator):
    body = {"call_sign": f"FAR-{uuid.uuid4().hex[:6]}", "type": "ALS",
            "station_lat": 33.70, "station_lng": 73.05, "crew_phones": []}
    r = await client.post("/api/v1/units", json=body, headers=operator.headers)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "station_outside_regions"
    assert "outside every imported region" in problem["detail"]
    assert problem["errors"][0]["field"] == "station_lat"
