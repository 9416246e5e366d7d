"""Units: registration, status rules, GPS pings ordered by recorded_at, stale fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import add_unit


def ping(lat, lng, at):
    return {"lat": lat, "lng": lng, "recorded_at": at.isoformat()}


async def test_out_of_order_pings_never_overwrite_a_newer_position(fleet_client, dispatcher):
    client, h = fleet_client, dispatcher.headers
    unit = await add_unit(client, h)
    url = f"/api/v1/units/{unit['id']}"
    assert (await client.get(url, headers=h)).json()["position_stale"] is True  # silent: station
    now = datetime.now(UTC)
    newer = await client.post(f"{url}/position", json=ping(60.171, 24.941, now), headers=h)
    assert newer.json() == {"accepted": True, "live": True, "trail_stored": True}
    older = await client.post(
        f"{url}/position", json=ping(60.165, 24.936, now - timedelta(seconds=5)), headers=h
    )
    assert older.json()["live"] is False
    view = (await client.get(url, headers=h)).json()
    assert view["position"] == {"lat": 60.171, "lng": 24.941} and view["position_stale"] is False
    ancient = await client.post(
        f"{url}/position", json=ping(60.17, 24.94, now - timedelta(hours=1)), headers=h
    )
    assert ancient.json()["live"] is False
    future = await client.post(
        f"{url}/position", json=ping(60.17, 24.94, now + timedelta(hours=1)), headers=h
    )
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "recorded_at"
    for bad in ({"lat": 91, "lng": 24.9, "recorded_at": now.isoformat()},
                {"lat": 60.1, "lng": 24.9}, {"lat": 60.1, "lng": 24.9, "recorded_at": "yesterday"}):
        assert (await client.post(f"{url}/position", json=bad, headers=h)).status_code == 422
    assert (await client.post(f"{url}/position", json=ping(60.17, 24.94, now))).status_code == 403


async def test_unit_registration_and_status_rules(fleet_client, dispatcher, patient_user):
    client, h = fleet_client, dispatcher.headers
    unit = await add_unit(client, h, unit_type="BLS")
    url = f"/api/v1/units/{unit['id']}"
    dup = await client.post("/api/v1/units", json={
        "call_sign": unit["call_sign"], "type": "ALS", "station_lat": 60.17, "station_lng": 24.94,
    }, headers=h)
    assert dup.status_code == 409 and dup.json()["code"] == "call_sign_taken"
    for body, field in [
        ({"call_sign": "X1", "type": "XLS", "station_lat": 60.17, "station_lng": 24.94}, "type"),
        (
            {
                "call_sign": "X2", "type": "ALS", "station_lat": 60.17, "station_lng": 24.94,
                "crew_phones": ["12345"],
            },
            "crew_phones.0",
        ),
        ({"call_sign": "", "type": "ALS", "station_lat": 60.17, "station_lng": 24.94}, "call_sign"),
    ]:
        r = await client.post("/api/v1/units", json=body, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    assert (
        await client.post("/api/v1/units", json={}, headers=patient_user.headers)
    ).status_code == 403
    r = await client.post(f"{url}/status", json={"status": "out_of_service"}, headers=h)
    assert r.json()["status"] == "out_of_service"
    listed = (
        await client.get("/api/v1/units", params={"status": "out_of_service"}, headers=h)
    ).json()
    assert unit["id"] in [u["id"] for u in listed]
    r = await client.post(f"{url}/status", json={"status": "out_of_service"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "invalid_unit_transition"
    r = await client.post(f"{url}/status", json={"status": "en_route"}, headers=h)
    assert r.status_code == 422
    assert (
        await client.post(f"{url}/status", json={"status": "available"}, headers=h)
    ).status_code == 200
