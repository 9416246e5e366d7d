"""Multi-unit responses: a plan per symptom x severity, several units bound all or none, each
with its own crew link and status; the case arrives with the first unit, and the response-time
figures count that first arrival."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest_asyncio

from tests.api.test_dispatch_end_to_end import crew_token_from, wait_for
from tests.conftest import add_unit, random_phone, sign_in, sos_body

CASES = "/api/v1/emergency/cases"


@pytest_asyncio.fixture(loop_scope="session")
async def dispatcher(fleet_app, fleet_client):
    """A fresh operator per test (a session-wide token can expire in a long, loaded run)."""
    return await sign_in(fleet_app, fleet_client, "emergency_operator")


async def _case(client, headers, symptom="cardiac_arrest", severity="critical") -> dict:
    case = (await client.post(CASES, json=sos_body(symptom_category=symptom))).json()
    r = await client.post(f"{CASES}/{case['id']}/triage", json={"severity": severity},
                          headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _crew(client, token, status):
    r = await client.post(f"/api/v1/crew/{token}/status", json={"status": status})
    assert r.status_code == 200, r.text
    return r.json()


async def test_plans_by_symptom_and_severity(fleet_client, dispatcher):
    client, h = fleet_client, dispatcher.headers
    await add_unit(client, h, unit_type="ALS")
    await add_unit(client, h, unit_type="BLS")
    arrest = await _case(client, h, "cardiac_arrest", "critical")
    plan = (await client.get(f"{CASES}/{arrest['id']}", headers=h)).json()["recommended_plan"]
    assert plan["plan"] == "cardiac_arrest" and plan["slots"] == ["ALS", "any"]
    assert plan["complete"] and len(set(plan["unit_ids"])) == 2
    assert plan["units"][0]["type"] == "ALS"
    trauma = await _case(client, h, "major_trauma", "critical")
    plan = (await client.get(f"{CASES}/{trauma['id']}", headers=h)).json()["recommended_plan"]
    assert plan["plan"] == "major_trauma_critical"
    assert [u["type"] for u in plan["units"]] == ["ALS", "BLS"]
    chest = await _case(client, h, "chest_pain", "low")
    plan = (await client.get(f"{CASES}/{chest['id']}", headers=h)).json()["recommended_plan"]
    assert plan["plan"] == "single_unit" and len(plan["unit_ids"]) == 1
    for case in (arrest, trauma, chest):
        await client.post(f"{CASES}/{case['id']}/cancel", json={"reason": "test"}, headers=h)


async def test_two_units_two_crew_links_first_on_scene_counts(fleet_client, dispatcher, twilio):
    client, h = fleet_client, dispatcher.headers
    als_phone, bls_phone = random_phone(), random_phone()
    als = await add_unit(client, h, unit_type="ALS", phones=[als_phone])
    bls = await add_unit(client, h, unit_type="BLS", phones=[bls_phone])
    case = await _case(client, h)
    r = await client.post(f"{CASES}/{case['id']}/dispatch",
                          json={"unit_ids": [als["id"], bls["id"]]}, headers=h)
    assert r.status_code == 200, r.text
    view = (await client.get(f"{CASES}/{case['id']}", headers=h)).json()
    assert view["status"] == "dispatched"
    assert [d["unit_id"] for d in view["dispatches"]] == [als["id"], bls["id"]]
    assert [d["position"] for d in view["dispatches"]] == [0, 1]
    assert view["dispatch"]["unit_id"] == als["id"]  # the lead, for single-unit clients
    for unit in (als, bls):
        got = (await client.get(f"/api/v1/units/{unit['id']}", headers=h)).json()
        assert got["status"] == "assigned" and got["current_case_id"] == case["id"]
    als_token = crew_token_from((await wait_for(lambda: twilio.messages_to(als_phone)))[0]
                                ["form"]["Body"])
    bls_token = crew_token_from((await wait_for(lambda: twilio.messages_to(bls_phone)))[0]
                                ["form"]["Body"])
    assert als_token != bls_token
    assert (await client.get(f"/api/v1/crew/{bls_token}")).json()["unit"]["id"] == bls["id"]

    await _crew(client, als_token, "en_route")
    assert (await _crew(client, bls_token, "en_route"))["case_status"] == "dispatched"
    first = await _crew(client, bls_token, "on_scene")  # the BLS unit gets there first
    assert first["case_status"] == "arrived" and first["unit_status"] == "on_scene"
    view = (await client.get(f"{CASES}/{case['id']}", headers=h)).json()
    by_unit = {d["unit_id"]: d for d in view["dispatches"]}
    assert by_unit[bls["id"]]["status"] == "on_scene" and by_unit[als["id"]]["status"] == "en_route"
    metrics = (await client.get("/api/v1/metrics/response-times",
                                params={"since": view["raised_at"]}, headers=h)).json()
    first_on_scene = datetime.fromisoformat(by_unit[bls["id"]]["on_scene_at"])
    expected = (first_on_scene - datetime.fromisoformat(view["dispatched_at"])).total_seconds()
    assert metrics["cases"] == 1
    assert abs(metrics["dispatch_to_on_scene"]["p50_seconds"] - expected) < 0.1

    await asyncio.sleep(0.2)
    assert (await _crew(client, als_token, "on_scene"))["case_status"] == "arrived"
    again = (await client.get("/api/v1/metrics/response-times",
                              params={"since": view["raised_at"]}, headers=h)).json()
    assert again["dispatch_to_on_scene"] == metrics["dispatch_to_on_scene"]  # still the first

    for status in ("transporting", "at_hospital"):
        await _crew(client, als_token, status)
    done = await _crew(client, als_token, "handover_complete")
    assert done["case_status"] == "closed"
    for unit in (als, bls):
        got = (await client.get(f"/api/v1/units/{unit['id']}", headers=h)).json()
        assert got["status"] == "available" and got["current_case_id"] is None
    r = await client.post(f"/api/v1/crew/{bls_token}/status", json={"status": "transporting"})
    assert r.status_code == 403 and r.json()["code"] == "crew_token_expired"


async def test_overlapping_unit_sets_race_one_wins_whole(fleet_app, fleet_client, dispatcher):
    client, h = fleet_client, dispatcher.headers
    other = await sign_in(fleet_app, client, "emergency_operator")
    for _ in range(3):
        u1, u2, u3 = [await add_unit(client, h) for _ in range(3)]
        x, y = await _case(client, h), await _case(client, other.headers)
        rx, ry = await asyncio.gather(
            client.post(f"{CASES}/{x['id']}/dispatch",
                        json={"unit_ids": [u1["id"], u2["id"]]}, headers=h),
            client.post(f"{CASES}/{y['id']}/dispatch",
                        json={"unit_ids": [u3["id"], u2["id"]]}, headers=other.headers),
        )
        assert sorted([rx.status_code, ry.status_code]) == [200, 409], (rx.text, ry.text)
        won, lost = (x, y) if rx.status_code == 200 else (y, x)
        loser = ry if rx.status_code == 200 else rx
        assert loser.json()["code"] == "unit_unavailable"
        assert u2["id"] in loser.json()["unavailable"]
        winners = {u1["id"], u2["id"]} if won is x else {u3["id"], u2["id"]}
        spare = ({u1["id"], u3["id"]} - winners).pop()
        for unit_id in winners:
            got = (await client.get(f"/api/v1/units/{unit_id}", headers=h)).json()
            assert got["status"] == "assigned" and got["current_case_id"] == won["id"]
        got = (await client.get(f"/api/v1/units/{spare}", headers=h)).json()
        assert got["status"] == "available" and got["current_case_id"] is None  # none bound
        lost_view = (await client.get(f"{CASES}/{lost['id']}", headers=h)).json()
        assert lost_view["status"] == "triaged" and lost_view["dispatches"] == []
        for case in (x, y):
            await client.post(f"{CASES}/{case['id']}/cancel", json={"reason": "test"}, headers=h)


async def test_multi_unit_dispatch_refuses_bad_requests(fleet_app, fleet_client, dispatcher):
    client, h = fleet_client, dispatcher.headers
    a, b = await add_unit(client, h), await add_unit(client, h)
    case = await _case(client, h)
    url = f"{CASES}/{case['id']}/dispatch"
    for body in (
        {"unit_ids": []},
        {"unit_ids": [a["id"], a["id"]]},
        {"unit_ids": [a["id"]], "unit_id": b["id"]},
        {"unit_ids": [str(uuid.uuid4()) for _ in range(7)]},
        {"unit_ids": ["not-a-uuid"]},
        {"unit_ids": a["id"]},
    ):
        r = await client.post(url, json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
    r = await client.post(url, json={"unit_ids": [a["id"], str(uuid.uuid4())]}, headers=h)
    assert r.status_code == 404
    admin = await sign_in(fleet_app, client, "patient")
    r = await client.post(url, json={"unit_ids": [a["id"], b["id"]]}, headers=admin.headers)
    assert r.status_code == 403
    assert (await client.post(url, json={"unit_ids": [a["id"], b["id"]]})).status_code == 401
    for unit in (a, b):  # nothing was bound by any refused request
        assert (await client.get(f"/api/v1/units/{unit['id']}", headers=h)).json()[
            "status"] == "available"
    # Twice at once with the same units: one dispatch, the other a clean 409 (or invalid move).
    both = await asyncio.gather(*(client.post(url, json={"unit_ids": [a["id"], b["id"]]},
                                              headers=h) for _ in range(2)))
    assert sorted(r.status_code for r in both) == [200, 409], [r.text for r in both]
    await client.post(f"{CASES}/{case['id']}/cancel", json={"reason": "test"}, headers=h)
