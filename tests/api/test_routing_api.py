"""Routing wired into the API, on the real Helsinki demo graph and its demo facilities."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from dispatch.destinations import Destinations
from facilities.capabilities import satisfies
from facilities.models import Hospital
from tests.conftest import add_unit, sign_in, sos_body

CASES = "/api/v1/emergency/cases"
CENTRAL = "DEMO Central University Hospital (demo data)"
HEART = "DEMO Kruununhaka Heart Centre (demo data)"
KLUUVI = "DEMO Kluuvi Emergency Hospital (demo data)"
INCIDENT = (60.1699, 24.9384)


async def hospital_id(app, name: str) -> uuid.UUID:
    async with app.state.session_factory() as session:
        return await session.scalar(select(Hospital.id).where(Hospital.name == name))


async def test_sos_recommends_capable_open_hospitals_by_road_eta(client):
    r = await client.post(CASES, json=sos_body(symptom_category="chest_pain"))
    body = r.json()
    assert body["region"] == "helsinki" and not body["outside_service_area"]
    recommended = body["recommended_hospitals"]
    assert 1 <= len(recommended) <= 3
    etas = [h["eta_seconds"] for h in recommended]
    assert etas == sorted(etas) and all(e > 0 for e in etas)
    for h in recommended:
        assert h["ed_status"] == "open" and satisfies(h["capabilities"], "stemi_pci")
        assert h["distance_m"] > 0
    explanation = body["recommendation"]
    assert explanation["required_capability"] == "stemi_pci"
    assert "presumed high" in explanation["requirement_reason"]
    skipped = {s["name"]: s["reason"] for s in explanation["skipped"]}
    assert skipped[KLUUVI] == "no_capability"
    assert "DEMO Harbour Birth Centre (demo data)" in skipped


async def test_recommendation_snapshot_is_stored_with_its_inputs(app, client):
    case_id = (await client.post(CASES, json=sos_body())).json()["id"]
    async with app.state.session_factory() as session:
        from dispatch.models import EmergencyCase

        case = await session.get(EmergencyCase, uuid.UUID(case_id))
    snapshot = case.recommendation
    assert len(snapshot["inputs"]) == 6
    assert {"hospital_id", "eta_s", "ed_status", "capabilities"} <= set(snapshot["inputs"][0])
    assert snapshot["snap"]["distance_m"] < 100 and snapshot["at"]


async def test_sos_outside_every_region_is_accepted_and_flagged(client):
    r = await client.post(CASES, json=sos_body(lat=33.7, lng=73.05))
    assert r.status_code == 201
    body = r.json()
    assert body["outside_service_area"] is True and body["region"] is None
    assert body["recommended_hospitals"] == []
    assert "phone" in body["recommendation"]["message"]


async def test_triage_re_ranks_for_the_new_requirement(client, operator):
    case = (await client.post(CASES, json=sos_body(symptom_category="major_trauma"))).json()
    r = await client.post(
        f"{CASES}/{case['id']}/triage", json={"severity": "critical"}, headers=operator.headers
    )
    body = r.json()
    assert body["recommendation"]["required_capability"] == "trauma_1"
    assert [h["name"] for h in body["recommended_hospitals"]] == [CENTRAL]
    r = await client.post(
        f"{CASES}/{case['id']}/triage",
        json={"severity": "high", "required_capability": "burns"},
        headers=operator.headers,
    )
    body = r.json()
    assert body["required_capability"] == "burns"
    assert "operator" in body["recommendation"]["requirement_reason"]
    assert {
        s["name"]: s["reason"] for s in body["recommendation"]["skipped"]
    }[KLUUVI] == "diverting"
    r = await client.post(
        f"{CASES}/{case['id']}/triage",
        json={"severity": "high", "required_capability": "levitation"},
        headers=operator.headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "required_capability"


async def test_dispatch_defaults_to_the_top_recommendation(client, operator):
    case = (await client.post(CASES, json=sos_body())).json()
    url = f"{CASES}/{case['id']}"
    triaged = (
        await client.post(f"{url}/triage", json={"severity": "high"}, headers=operator.headers)
    ).json()
    top = triaged["recommended_hospitals"][0]["hospital_id"]
    await add_unit(client, operator.headers)
    dispatched = (await client.post(f"{url}/dispatch", headers=operator.headers)).json()
    assert dispatched["destination_hospital_id"] == top


async def test_capacity_changes_are_authorised_and_steer_recommendations(app, client, operator):
    heart = await hospital_id(app, HEART)
    other = await hospital_id(app, CENTRAL)
    admin = await sign_in(app, client, "hospital_admin", hospital_id=heart)
    url = f"/api/v1/hospitals/{heart}/capacity"
    assert (await client.put(url, json={"ed_status": "diverting"})).status_code == 401
    assert (
        await client.put(url, json={"ed_status": "diverting"}, headers=operator.headers)
    ).status_code == 403
    foreign = await client.put(
        f"/api/v1/hospitals/{other}/capacity", json={"ed_status": "closed"}, headers=admin.headers
    )
    assert foreign.status_code == 403 and foreign.json()["code"] == "not_your_hospital"
    bad = await client.put(url, json={"ed_status": "on_fire"}, headers=admin.headers)
    assert bad.status_code == 422
    try:
        r = await client.put(
            url, json={"ed_status": "diverting", "beds_available": 0}, headers=admin.headers
        )
        assert r.status_code == 200 and r.json()["ed_status"] == "diverting"
        assert r.json()["capacity_stale"] is False
        body = (await client.post(CASES, json=sos_body(symptom_category="chest_pain"))).json()
        assert HEART not in [h["name"] for h in body["recommended_hospitals"]]
        assert {
            s["name"]: s["reason"] for s in body["recommendation"]["skipped"]
        }[HEART] == "diverting"
    finally:
        restore = await client.put(
            url, json={"ed_status": "open", "beds_available": 4}, headers=admin.headers
        )
        assert restore.status_code == 200


async def test_hospitals_near_a_point_are_ranked_by_travel_time(client):
    r = await client.get(
        "/api/v1/hospitals", params={"capability": "stemi_pci", "near": "60.1699,24.9384"}
    )
    assert r.status_code == 200
    hospitals = r.json()
    assert len(hospitals) >= 2
    assert all(satisfies(h["capabilities"], "stemi_pci") for h in hospitals)
    etas = [h["eta_seconds"] for h in hospitals]
    assert etas == sorted(etas)
    for params, field in [
        ({"capability": "telepathy"}, "capability"),
        ({"near": "60.1"}, "near"),
        ({"near": "nan,24.9"}, "near"),
        ({"near": "0,0"}, "near"),
    ]:
        r = await client.get("/api/v1/hospitals", params=params)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, params


async def test_route_between_two_points(client):
    r = await client.get(
        "/api/v1/routing/route", params={"from": "60.1699,24.9384", "to": "60.1722,24.9498"}
    )
    assert r.status_code == 200, r.text
    route = r.json()
    assert route["eta_seconds"] > 0 and route["distance_m"] > 500
    assert route["geometry"]["type"] == "LineString" and len(route["geometry"]["coordinates"]) > 3
    back = (
        await client.get(
            "/api/v1/routing/route", params={"from": "60.1722,24.9498", "to": "60.1699,24.9384"}
        )
    ).json()
    assert back["eta_seconds"] != route["eta_seconds"]  # one-way streets make the way back differ
    for params in (
        {"from": "x", "to": "60.17,24.94"},
        {"from": "60.17,24.94", "to": "0,0"},
        {"from": "95,1", "to": "60.17,24.94"},
    ):
        assert (await client.get("/api/v1/routing/route", params=params)).status_code == 422


def box(lat: float, lng: float, half: float = 0.0012) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [[
            [lng - half * 2, lat - half], [lng + half * 2, lat - half],
            [lng + half * 2, lat + half], [lng - half * 2, lat + half],
            [lng - half * 2, lat - half],
        ]],
    }


async def test_closures_change_eta_and_reopening_restores_it(app, client, operator):
    target = "60.1722,24.9498"
    params = {"from": "60.1699,24.9384", "to": target}
    before = (await client.get("/api/v1/routing/route", params=params)).json()
    mid = before["geometry"]["coordinates"][len(before["geometry"]["coordinates"]) // 2]
    closure = await client.post(
        "/api/v1/routing/closures",
        json={
            "geometry": box(mid[1], mid[0], 0.0004),
            "reason": "water main burst",
            "duration_minutes": 30,
        },
        headers=operator.headers,
    )
    assert closure.status_code == 201, closure.text
    assert closure.json()["edges_closed"] > 0
    during = (await client.get("/api/v1/routing/route", params=params))
    assert during.status_code == 404 or during.json()["eta_seconds"] > before["eta_seconds"]
    listed = (await client.get("/api/v1/routing/closures")).json()
    assert closure.json()["id"] in [c["id"] for c in listed]

    # A second worker sees the closure through the database within its sync interval.
    other = await asyncio.to_thread(
        Destinations.load, app.state.sync_engine, settings=app.state.dispatch_settings,
        data_dir=app.state.destinations.data_dir,
    )
    net = other.regions["helsinki"]
    assert closure.json()["id"] in net.closure_ids

    deleted = await client.delete(
        f"/api/v1/routing/closures/{closure.json()['id']}", headers=operator.headers
    )
    assert deleted.status_code == 204
    after = (await client.get("/api/v1/routing/route", params=params)).json()
    assert abs(after["eta_seconds"] - before["eta_seconds"]) < 0.1
    await asyncio.to_thread(other.sync, app.state.sync_engine)
    assert closure.json()["id"] not in net.closure_ids
    again = await client.delete(
        f"/api/v1/routing/closures/{closure.json()['id']}", headers=operator.headers
    )
    assert again.status_code == 404


async def test_closure_expiry_restores_the_route(client, operator):
    params = {"from": "60.1699,24.9384", "to": "60.1652,24.9405"}
    before = (await client.get("/api/v1/routing/route", params=params)).json()
    mid = before["geometry"]["coordinates"][len(before["geometry"]["coordinates"]) // 2]
    r = await client.post(
        "/api/v1/routing/closures",
        json={
            "geometry": box(mid[1], mid[0], 0.0003),
            "reason": "parade",
            "duration_minutes": 0.03,
        },
        headers=operator.headers,
    )
    assert r.status_code == 201
    expires = datetime.fromisoformat(r.json()["expires_at"])
    # Wait for the route to come back (polled, with a deadline), then check it came back only
    # once the closure had expired.
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        answer = await client.get("/api/v1/routing/route", params=params)
        assert answer.status_code in (200, 404, 422), answer.text
        after = answer.json()
        # While closed the route is longer, or there is none (a problem without an ETA).
        if abs(after.get("eta_seconds", -1.0) - before["eta_seconds"]) < 0.1:
            break
        assert asyncio.get_running_loop().time() < deadline, "the closure never expired"
        await asyncio.sleep(0.1)
    assert datetime.now(UTC) >= expires


async def test_an_isolated_hospital_is_unreachable_not_guessed(app, client, operator):
    heart = await hospital_id(app, HEART)
    r = await client.post(
        "/api/v1/routing/closures",
        json={
            "geometry": box(60.1722, 24.9498, 0.0009),
            "reason": "police cordon",
            "duration_minutes": 5,
        },
        headers=operator.headers,
    )
    assert r.status_code == 201
    try:
        body = (await client.post(CASES, json=sos_body(symptom_category="chest_pain"))).json()
        assert str(heart) not in [h["hospital_id"] for h in body["recommended_hospitals"]]
        skipped = {s["hospital_id"]: s for s in body["recommendation"]["skipped"]}
        assert skipped[str(heart)]["reason"] == "unreachable"
        assert skipped[str(heart)]["eta_seconds"] is None
    finally:
        await client.delete(f"/api/v1/routing/closures/{r.json()['id']}", headers=operator.headers)


async def test_closure_validation(client, operator, patient_user):
    url = "/api/v1/routing/closures"
    good = {"geometry": box(60.17, 24.94), "reason": "x", "duration_minutes": 5}
    assert (await client.post(url, json=good)).status_code == 401
    assert (await client.post(url, json=good, headers=patient_user.headers)).status_code == 403
    cases = [
        ({**good, "geometry": {"type": "Point", "coordinates": [24.94, 60.17]}}, "geometry.type"),
        ({**good, "geometry": {"type": "Polygon", "coordinates": [[[1, 2]]]}}, "geometry"),
        ({**good, "geometry": box(0.0, 0.0)}, "geometry"),
        ({**good, "expires_at": "2020-01-01T00:00:00Z", "duration_minutes": None}, "expires_at"),
        ({**good, "reason": ""}, "reason"),
    ]
    for body, field in cases:
        r = await client.post(url, json=body, headers=operator.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["errors"][0]["field"] == field


async def test_case_routes_draw_each_recommendation_and_the_destination(client, operator):
    sos = (await client.post(CASES, json=sos_body(symptom_category="chest_pain"))).json()
    url = f"{CASES}/{sos['id']}/routes"
    routes = (await client.get(url, headers=operator.headers)).json()
    assert routes["type"] == "FeatureCollection"
    by_id = {f["properties"]["hospital_id"]: f for f in routes["features"]}
    assert list(by_id) == [h["hospital_id"] for h in sos["recommended_hospitals"]]
    for h in sos["recommended_hospitals"]:
        feature = by_id[h["hospital_id"]]
        line = feature["geometry"]["coordinates"]
        assert feature["geometry"]["type"] == "LineString" and len(line) >= 2
        assert feature["properties"]["eta_seconds"] == pytest.approx(h["eta_seconds"], abs=0.1)
        assert feature["properties"]["distance_m"] == pytest.approx(h["distance_m"], abs=0.5)
        assert not feature["properties"]["destination"]
    # the reporter, with the case token, sees only the route to the destination (none yet)
    mine = await client.get(url, headers={"X-Case-Token": sos["case_token"]})
    assert mine.status_code == 200 and mine.json()["features"] == []
    assert (await client.get(url)).status_code == 401
    dispatched = await client.post(f"{CASES}/{sos['id']}/triage", json={"severity": "high"},
                                   headers=operator.headers)
    assert dispatched.status_code == 200, dispatched.text
    await add_unit(client, operator.headers)
    r = await client.post(f"{CASES}/{sos['id']}/dispatch", json={}, headers=operator.headers)
    assert r.status_code == 200, r.text
    mine = (await client.get(url, headers={"X-Case-Token": sos["case_token"]})).json()
    assert [f["properties"]["hospital_id"] for f in mine["features"]] == [
        r.json()["destination_hospital_id"]
    ]
    assert mine["features"][0]["properties"]["destination"]


ISOCHRONE = "/api/v1/routing/isochrone"


async def test_isochrone_bands_grow_and_hold_the_point(client, operator):
    import shapely
    from shapely.geometry import shape

    for direction in ("from", "to"):
        r = await client.get(
            ISOCHRONE,
            params={"lat": 60.1699, "lng": 24.9384, "minutes": "1,2,4", "direction": direction},
            headers=operator.headers,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["type"] == "FeatureCollection" and body["region"] == "helsinki"
        areas = [shape(f["geometry"]) for f in body["features"]]
        assert [f["properties"]["minutes"] for f in body["features"]] == [1.0, 2.0, 4.0]
        assert all(a.is_valid and not a.is_empty for a in areas)
        assert areas[0].area < areas[1].area <= areas[2].area
        assert areas[0].buffer(1e-3).contains(shapely.Point(24.9384, 60.1699))


@pytest.mark.parametrize(
    "params",
    [
        {"lat": 60.17, "lng": 24.94, "minutes": "abc"},
        {"lat": 60.17, "lng": 24.94, "minutes": "0"},
        {"lat": 60.17, "lng": 24.94, "minutes": "4,8,15,20,25,30,40"},
        {"lat": 60.17, "lng": 24.94, "minutes": "61"},
        {"lat": 60.17, "lng": 24.94, "direction": "sideways"},
        {"lat": "nan", "lng": 24.94},
        {"lat": 91, "lng": 24.94},
        {"lat": 10.0, "lng": 10.0},  # outside every region
    ],
)
async def test_isochrone_bad_input_is_a_problem_422(client, operator, params):
    r = await client.get(ISOCHRONE, params=params, headers=operator.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_isochrone_needs_a_signed_in_operator(client):
    r = await client.get(ISOCHRONE, params={"lat": 60.17, "lng": 24.94})
    assert r.status_code == 401
    r = await client.get(
        ISOCHRONE, params={"lat": 60.17, "lng": 24.94}, headers={"Authorization": "Bearer x.y.z"}
    )
    assert r.status_code == 401


async def test_isochrone_twice_at_once_gives_the_same_bands(client, operator):
    """Two requests at once share the engine (read-only): both answer, the same polygons."""
    params = {"lat": 60.1699, "lng": 24.9384, "minutes": "2,4"}
    first, second = await asyncio.gather(
        client.get(ISOCHRONE, params=params, headers=operator.headers),
        client.get(ISOCHRONE, params=params, headers=operator.headers),
    )
    assert first.status_code == second.status_code == 200
    assert first.json()["features"] == second.json()["features"]
