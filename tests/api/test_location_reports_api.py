"""Location reports from the caller's phone: stored, alerted, then confirmed or dismissed."""

from __future__ import annotations

import uuid

from tests.conftest import sos_body


async def raise_case(client) -> dict:
    response = await client.post(
        "/api/v1/emergency/cases", json=sos_body(), headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_move_waits_for_the_operator_and_confirming_moves_the_case(client, operator):
    case = await raise_case(client)
    token = {"X-Case-Token": case["case_token"]}
    url = f"/api/v1/emergency/cases/{case['id']}/location"

    same = await client.post(url, json={"lat": 60.16995, "lng": 24.93845, "accuracy_m": 20},
                             headers=token)
    assert same.status_code == 200 and same.json()["status"] == "same"
    moved = await client.post(url, json={"lat": 60.1725, "lng": 24.9410, "accuracy_m": 15},
                              headers=token)
    assert moved.status_code == 200 and moved.json()["status"] == "pending", moved.text

    view = (await client.get(f"/api/v1/emergency/cases/{case['id']}",
                             headers=operator.headers)).json()
    assert view["location"] == case["location"]
    assert view["pending_location"]["id"] == moved.json()["id"]
    assert [a["kind"] for a in view["alerts"]] == ["location_moved"]

    confirmed = await client.post(f"{url}/{moved.json()['id']}/confirm", headers=operator.headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["location"] == {"lat": 60.1725, "lng": 24.9410}
    view = (await client.get(f"/api/v1/emergency/cases/{case['id']}",
                             headers=operator.headers)).json()
    assert view["pending_location"] is None and view["alerts"] == []
    assert view["events"][-1]["action"] == "relocate"
    again = await client.post(f"{url}/{moved.json()['id']}/confirm", headers=operator.headers)
    assert again.status_code == 409


async def test_only_the_case_token_or_staff_may_report_and_only_operators_decide(
    client, operator, patient_user
):
    case = await raise_case(client)
    other = await raise_case(client)
    url = f"/api/v1/emergency/cases/{case['id']}/location"
    body = {"lat": 60.1725, "lng": 24.9410}
    assert (await client.post(url, json=body)).status_code == 401
    wrong = await client.post(url, json=body, headers={"X-Case-Token": other["case_token"]})
    assert wrong.status_code == 403
    bad = await client.post(url, json={"lat": 99, "lng": 0},
                            headers={"X-Case-Token": case["case_token"]})
    assert bad.status_code == 422
    moved = await client.post(url, json=body, headers={"X-Case-Token": case["case_token"]})
    report = moved.json()["id"]
    refused = await client.post(f"{url}/{report}/confirm", headers=patient_user.headers)
    assert refused.status_code == 403
    dismissed = await client.post(f"{url}/{report}/dismiss", headers=operator.headers)
    assert dismissed.status_code == 200
    assert dismissed.json()["location"] == case["location"]
    missing = await client.post(f"{url}/{uuid.uuid4()}/confirm", headers=operator.headers)
    assert missing.status_code == 404
