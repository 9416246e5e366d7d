"""Sending a unit to a hospital that lacks the required capability, or is diverting, asks for a
reason and raises an alert, instead of passing silently."""

from __future__ import annotations

from tests.conftest import add_unit, sos_body

CASES = "/api/v1/emergency/cases"


async def hospital_named(client, part: str) -> dict:
    hospitals = (await client.get("/api/v1/hospitals", params={"limit": 500})).json()
    return next(h for h in hospitals if part in h["name"])


async def test_a_destination_against_the_rules_needs_a_reason_and_raises_an_alert(
    client, operator
):
    h = operator.headers
    case = (await client.post(CASES, json=sos_body(symptom_category="cardiac_arrest"))).json()
    assert case["recommendation"]["required_capability"] == "stemi_pci"
    children = await hospital_named(client, "Kamppi Children")  # no stemi_pci
    diverting = await hospital_named(client, "Kluuvi")          # ED diverting (demo seed)
    unit = await add_unit(client, h)
    dispatch = f"{CASES}/{case['id']}/dispatch"
    early = await client.post(dispatch, json={"unit_id": unit["id"],
                                              "hospital_id": children["id"]}, headers=h)
    assert early.status_code == 409  # not triaged yet: the lifecycle answers first
    triaged = await client.post(f"{CASES}/{case['id']}/triage", json={"severity": "critical"},
                                headers=h)
    assert triaged.status_code == 200, triaged.text
    for hospital, why in ((children, "lacks stemi_pci"), (diverting, "diverting")):
        r = await client.post(dispatch, json={"unit_id": unit["id"],
                                              "hospital_id": hospital["id"]}, headers=h)
        assert r.status_code == 422, r.text
        problem = r.json()
        assert problem["code"] == "destination_needs_reason" and why in problem["detail"]
        assert problem["errors"][0]["field"] == "reason"
        blank = await client.post(dispatch, json={"unit_id": unit["id"], "reason": "  ",
                                                  "hospital_id": hospital["id"]}, headers=h)
        assert blank.status_code == 422
    r = await client.post(dispatch, json={
        "unit_id": unit["id"], "hospital_id": children["id"],
        "reason": "family insists; paediatric patient",
    }, headers=h)
    assert r.status_code == 200, r.text
    read = (await client.get(f"{CASES}/{case['id']}", headers=h)).json()
    assert read["destination_hospital_id"] == children["id"]
    alert = next(a for a in read["alerts"] if a["kind"] == "destination_override")
    assert alert["level"] == "amber" and "family insists" in alert["message"]
    assert "lacks stemi_pci" in alert["message"]


async def test_the_recommended_destination_needs_no_reason(client, operator):
    h = operator.headers
    case = (await client.post(CASES, json=sos_body(symptom_category="chest_pain"))).json()
    await client.post(f"{CASES}/{case['id']}/triage", json={"severity": "high"}, headers=h)
    unit = await add_unit(client, h)
    r = await client.post(f"{CASES}/{case['id']}/dispatch", json={"unit_id": unit["id"]},
                          headers=h)
    assert r.status_code == 200, r.text
    read = (await client.get(f"{CASES}/{case['id']}", headers=h)).json()
    assert not [a for a in read["alerts"] if a["kind"] == "destination_override"]


async def test_the_address_reaches_the_crew_sms_the_crew_page_and_the_hospital(
    client, operator
):
    """Every case carries its address, and everyone who acts on it is shown it."""
    import random
    import re

    h = operator.headers
    # A spot of its own: a second call there must find this case, not another test's (not the
    # global generator, which pytest-randomly reseeds to the same state before every test).
    places = random.SystemRandom()
    lat, lng = 60.1655 + places.random() * 0.010, 24.9400 + places.random() * 0.010
    case = (await client.post(CASES, json=sos_body(lat=lat, lng=lng))).json()
    assert case["address"]
    await client.post(f"{CASES}/{case['id']}/triage", json={"severity": "high"}, headers=h)
    unit = await add_unit(client, h, phones=["+358401112233"])
    r = await client.post(f"{CASES}/{case['id']}/dispatch", json={"unit_id": unit["id"]},
                          headers=h)
    assert r.status_code == 200, r.text
    sms = (await client.get("/api/v1/sms/outbox", params={"case_id": case["id"]},
                            headers=h)).json()
    body = next(m["body"] for m in sms if "/crew/" in m["body"])
    assert case["address"] in body
    token = re.search(r"/crew/([A-Za-z0-9._~-]+)", body).group(1)
    job = (await client.get(f"/api/v1/crew/{token}")).json()
    assert job["case"]["address"] == case["address"]
    hospital = r.json()["destination_hospital_id"]
    incoming = (await client.get(f"/api/v1/hospitals/{hospital}/incoming", headers=h)).json()
    mine = [i for i in incoming if i["case_id"] == case["id"]]
    assert mine and mine[0]["address"] == case["address"]

    # A second call about it, linked, joins the dispatched case and closes when the crew hands
    # the patient over (the crew path moves the primary, and the linked call with it).
    second = (await client.post(CASES, json=sos_body(lat=lat + 0.00005, lng=lng))).json()
    assert second["possible_duplicate_of"] == case["id"]
    linked = await client.post(f"{CASES}/{second['id']}/link", json={"to": case["id"]},
                               headers=h)
    assert linked.status_code == 200, linked.text
    assert linked.json()["status"] == "dispatched"
    for status in ("en_route", "on_scene", "transporting", "at_hospital", "handover_complete"):
        r = await client.post(f"/api/v1/crew/{token}/status", json={"status": status})
        assert r.status_code == 200, r.text
    ended = (await client.get(f"{CASES}/{second['id']}", headers=h)).json()
    assert ended["status"] == "closed" and case["id"] in ended["close_reason"]
    assert [e["action"] for e in ended["events"]][-2:] == ["arrive", "close"]
    assert {e["actor"] for e in ended["events"][-2:]} == {f"crew:{unit['call_sign']}"}
