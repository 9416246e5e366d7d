"""Per-service status with an end time: set, audited, pushed, honoured only for that capability,
and reverted by itself while a case is open."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from data.outbox import OutboxEvent
from facilities.models import HospitalServiceChange
from tests.conftest import sign_in, sos_body
from tests.support.hospitals import CASES, CENTRAL, hospital_id

THROMBECTOMY = "stroke_thrombectomy"


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def _raise(client, fresh_operator, symptom: str, severity: str) -> dict:
    case = (await client.post(CASES, json=sos_body(symptom_category=symptom))).json()
    r = await client.post(f"{CASES}/{case['id']}/triage", json={"severity": severity},
                          headers=fresh_operator.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _read(client, fresh_operator, case_id) -> dict:
    return (await client.get(f"{CASES}/{case_id}", headers=fresh_operator.headers)).json()


def _names(case: dict) -> list[str]:
    return [h["name"] for h in case["recommended_hospitals"]]


async def test_a_service_expires_while_a_case_is_open(app, client, fresh_operator, central_admin):
    central = await hospital_id(app, CENTRAL)
    url = f"/api/v1/hospitals/{central}/services/{THROMBECTOMY}"
    r = await client.put(url, json={"status": "unavailable", "reason": "CT down",
                                    "until": _in(4)}, headers=central_admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "unavailable" and r.json()["previous_status"] == "available"
    try:
        stroke = await _raise(client, fresh_operator, "stroke_symptoms", "critical")
        # Central is offered only as the nearest general ED, not as a thrombectomy centre.
        assert stroke["recommendation"]["fallback"] == "nearest_general_ed"
        skipped = {s["name"]: s["reason"] for s in stroke["recommendation"]["skipped"]}
        assert skipped[CENTRAL] == "service_unavailable"
        # Only that capability: a cardiac case still goes to Central's cath lab.
        cardiac = await _raise(client, fresh_operator, "cardiac_arrest", "critical")
        assert CENTRAL in _names(cardiac)
        services = (await client.get(f"/api/v1/hospitals/{central}/services")).json()
        by_name = {s["capability"]: s for s in services["services"]}
        assert by_name[THROMBECTOMY]["status"] == "unavailable"
        assert by_name[THROMBECTOMY]["reason"] == "CT down"
        assert by_name["stemi_pci"]["status"] == "available"

        # The end time passes while the stroke case is still open: it reverts by itself and the
        # open case is re-ranked (a sweep every LIFELINE_DISPATCH_SERVICE_SWEEP_SECONDS, 2 s).
        deadline = asyncio.get_running_loop().time() + 15
        while (await _read(client, fresh_operator, stroke["id"]))["recommendation"]["fallback"]:
            assert asyncio.get_running_loop().time() < deadline, "the status never expired"
            await asyncio.sleep(0.25)
        view = await _read(client, fresh_operator, stroke["id"])
        assert _names(view)[0] == CENTRAL
        assert view["recommended_hospitals"][0]["service_status"] == "available"
        assert any(t["action"] == "reassess" for t in view["timeline"] if t.get("action"))
        services = (await client.get(f"/api/v1/hospitals/{central}/services")).json()
        assert {s["capability"]: s["status"] for s in services["services"]}[THROMBECTOMY] == (
            "available"
        )
        async with app.state.session_factory() as session:
            changes = list(await session.scalars(
                select(HospitalServiceChange).where(HospitalServiceChange.hospital_id == central)
                .order_by(HospitalServiceChange.at)))
            assert [(c.to_status, c.actor) for c in changes][-2:] == [
                ("unavailable", f"hospital_admin:{central_admin.user_id}"),
                ("available", "expiry")]
            pushed = list(await session.scalars(
                select(OutboxEvent).where(OutboxEvent.event_type == "hospital.service",
                                          OutboxEvent.aggregate_id == str(central))
                .order_by(OutboxEvent.id)))
            assert [e.payload["status"] for e in pushed][-2:] == ["unavailable", "available"]
    finally:
        await client.put(url, json={"status": "available"}, headers=central_admin.headers)


async def test_limited_is_still_recommended_and_flagged(app, client, fresh_operator, central_admin):
    central = await hospital_id(app, CENTRAL)
    url = f"/api/v1/hospitals/{central}/services/{THROMBECTOMY}"
    r = await client.put(url, json={"status": "limited", "reason": "one angio suite"},
                         headers=central_admin.headers)
    assert r.status_code == 200, r.text
    try:
        stroke = await _raise(client, fresh_operator, "stroke_symptoms", "critical")
        top = stroke["recommended_hospitals"][0]
        assert top["name"] == CENTRAL and top["service_status"] == "limited"
    finally:
        await client.put(url, json={"status": "available"}, headers=central_admin.headers)


async def test_who_may_set_a_service_and_bad_input(app, client, fresh_operator, central_admin):
    central = await hospital_id(app, CENTRAL)
    url = f"/api/v1/hospitals/{central}/services/{THROMBECTOMY}"
    body = {"status": "unavailable", "reason": "CT down", "until": _in(600)}
    assert (await client.put(url, json=body)).status_code == 401
    r = await client.put(url, json=body, headers=fresh_operator.headers)
    assert r.status_code == 403
    harbour = await hospital_id(app, "DEMO Harbour Birth Centre (demo data)")
    other = await sign_in(app, client, "hospital_admin", hospital_id=harbour)
    r = await client.put(url, json=body, headers=other.headers)
    assert r.status_code == 403 and r.json()["code"] == "not_your_hospital"
    h = central_admin.headers
    cases = [
        (f"/api/v1/hospitals/{central}/services/teleportation", body, "capability"),
        (f"/api/v1/hospitals/{central}/services/obstetric", body, "capability"),  # not provided
        (url, {**body, "until": _in(-60)}, "until"),
        (url, {**body, "until": "2030-01-01T14:00:00"}, "until"),  # no timezone
        (url, {**body, "status": "broken"}, "status"),
        (url, {**body, "colour": "red"}, "colour"),
        (url, {"status": "available", "until": _in(60)}, "until"),
    ]
    for target, payload, field in cases:
        r = await client.put(target, json=payload, headers=h)
        assert r.status_code == 422, (target, payload, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in r.text
    r = await client.put(
        "/api/v1/hospitals/00000000-0000-0000-0000-000000000000/services/general_ed",
        json=body, headers=(await sign_in(app, client, "super_admin")).headers)
    assert r.status_code == 404
    # Twice at once: both succeed in turn, the audit keeps both and the status is the last one.
    try:
        results = await asyncio.gather(*(client.put(url, json=body, headers=h) for _ in range(2)))
        assert [x.status_code for x in results] == [200, 200]
    finally:
        r = await client.put(url, json={"status": "available"}, headers=h)
        assert r.status_code == 200
