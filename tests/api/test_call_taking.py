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
    hospitals = (await client.get("/api/v1/hospitals", params={"limit": 1})).json()
    admin = await sign_in(app, client, "hospital_admin", hospital_id=hospitals[0]["id"])
    assert (await client.post(link, json={"to": first["id"]},
                              headers=admin.headers)).status_code == 403
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
    # The primary is cancelled: the linked case is cancelled with it, saying why.
    r = await client.post(f"{CASES}/{first['id']}/cancel", json={"reason": "false alarm"},
                          headers=operator.headers)
    assert r.status_code == 200, r.text
    ended = (await client.get(f"{CASES}/{second['id']}", headers=operator.headers)).json()
    assert ended["status"] == "cancelled" and first["id"] in ended["cancel_reason"]
    assert "false alarm" in ended["cancel_reason"] and ended["cancelled_at"]
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


async def test_dismissing_is_refused_to_the_wrong_people_and_happens_once(
    client, operator, app, identity_settings
):
    lat, lng = spot()
    first = await raise_case(client, lat=lat, lng=lng)
    second = await raise_case(client, lat=lat, lng=lng)
    assert second["possible_duplicate_of"] == first["id"]
    dismiss = f"{CASES}/{second['id']}/duplicate/dismiss"
    hospitals = (await client.get("/api/v1/hospitals", params={"limit": 1})).json()
    for roles, hospital in ((("patient",), None), (("hospital_admin",), hospitals[0]["id"])):
        who = await sign_in(app, client, *roles, hospital_id=hospital)
        r = await client.post(dismiss, headers=who.headers)
        assert r.status_code == 403, r.text
    expired = issue_access_token(
        user_id=operator.user_id, roles={"emergency_operator"}, hospital_id=None, mfa=True,
        settings=identity_settings.model_copy(update={"access_token_minutes": -1}),
    )
    for bad in ("Bearer not.a.token", f"Bearer {expired}"):
        r = await client.post(dismiss, headers={"Authorization": bad})
        assert r.status_code == 401 and r.headers["content-type"].startswith(
            "application/problem+json")
    # Twice at once: exactly one dismissal, the other is told the flag is gone.
    answers = await asyncio.gather(*[client.post(dismiss, headers=operator.headers)
                                     for _ in range(2)])
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    # Another case's id in a body is not read: the path names the case.
    third = await raise_case(client, lat=lat, lng=lng)
    assert third["possible_duplicate_of"] == first["id"]
    r = await client.post(dismiss, json={"case_id": third["id"]}, headers=operator.headers)
    assert r.status_code in (409, 422), r.text
    assert (await client.get(f"{CASES}/{third['id']}", headers=operator.headers)).json()[
        "possible_duplicate_of"] == first["id"]
    read = (await client.get(f"{CASES}/{second['id']}", headers=operator.headers)).json()
    assert [e["action"] for e in read["events"]].count("not_duplicate") == 1


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


async def linked_pair(client, operator) -> tuple[dict, dict]:
    """A call and a second call about the same incident, linked to it."""
    lat, lng = spot()
    first = await raise_case(client, operator.headers, lat=lat, lng=lng, source="phone")
    second = await raise_case(client, lat=lat, lng=lng)
    r = await client.post(f"{CASES}/{second['id']}/link", json={"to": first["id"]},
                          headers=operator.headers)
    assert r.status_code == 200, r.text
    return first, r.json()


async def read(client, operator, case: dict) -> dict:
    return (await client.get(f"{CASES}/{case['id']}", headers=operator.headers)).json()


async def written_together(app, case_id: str) -> tuple[dict[str, set[str]], list[str]]:
    """The transaction (xmin) of the case's audit rows by action, and its outbox event types.

    Audit rows are never updated, so their xmin is the transaction that wrote them (the relay
    updates outbox rows, so theirs is not)."""
    from sqlalchemy import text

    async with app.state.session_factory() as session:
        audit = (await session.execute(text(
            "SELECT action, xmin::text AS tx FROM case_events WHERE case_id = :c"),
            {"c": case_id})).all()
        outbox = (await session.scalars(text(
            "SELECT event_type FROM outbox WHERE aggregate_id = :c ORDER BY id"),
            {"c": case_id})).all()
    together: dict[str, set[str]] = {}
    for action, tx in audit:
        together.setdefault(action, set()).add(tx)
    return together, list(outbox)


async def test_a_linked_call_follows_its_primary_to_closed(client, operator, app):
    """Triage, dispatch, arrive, close of the primary: the linked call takes each step, stamped,
    audited and in the outbox in the primary's own transaction; it ends closed, not cancelled."""
    from tests.conftest import add_unit

    h = operator.headers
    first, second = await linked_pair(client, operator)
    assert second["status"] == "raised" and second["linked_to"] == first["id"]
    r = await client.post(f"{CASES}/{first['id']}/triage", json={"severity": "high"}, headers=h)
    assert r.status_code == 200, r.text
    follower = await read(client, operator, second)
    assert (follower["status"], follower["severity"]) == ("triaged", "high")
    # Re-triage moves it too.
    r = await client.post(f"{CASES}/{first['id']}/triage", json={"severity": "critical"},
                          headers=h)
    assert r.status_code == 200, r.text
    assert (await read(client, operator, second))["severity"] == "critical"
    unit = await add_unit(client, h)
    r = await client.post(f"{CASES}/{first['id']}/dispatch", json={"unit_id": unit["id"]},
                          headers=h)
    assert r.status_code == 200, r.text
    primary = r.json()
    follower = await read(client, operator, second)
    assert follower["status"] == "dispatched"
    assert follower["destination_hospital_id"] == primary["destination_hospital_id"]
    # One ambulance for one incident: the linked call shows the primary's unit, has none itself.
    assert follower["dispatch"]["shared_with"] == first["id"]
    for action in ("arrive", "close"):
        r = await client.post(f"{CASES}/{first['id']}/{action}", json={}, headers=h)
        assert r.status_code == 200, r.text
    follower = await read(client, operator, second)
    assert follower["status"] == "closed" and follower["cancel_reason"] is None
    assert first["id"] in follower["close_reason"]
    for stamp in ("triaged_at", "dispatched_at", "arrived_at", "closed_at"):
        assert follower[stamp], stamp
    steps = [e["action"] for e in follower["events"]]
    assert steps == ["raise", "link", "triage", "triage", "dispatch", "arrive", "close"]
    assert all(first["id"] in e["reason"] for e in follower["events"][2:])
    # Audited as done by the operator who moved the primary.
    primary_actors = {e["actor"] for e in (await read(client, operator, first))["events"][1:]}
    assert {e["actor"] for e in follower["events"][2:]} == primary_actors
    # Each step of the linked call was written in the transaction of the primary's same step.
    (mine, events), (theirs, _) = (await written_together(app, second["id"]),
                                   await written_together(app, first["id"]))
    for action in ("triage", "dispatch", "arrive", "close"):
        assert mine[action] == theirs[action], action
    assert events == [f"case.{step}" for step in steps]
    # One incident, one response: the linked call is not counted in the response times.
    metrics = (await client.get("/api/v1/metrics/response-times",
                                params={"since": first["raised_at"]}, headers=h)).json()
    assert metrics["cases"] == 1, metrics
    # The unit is free again, and the linked call never held one.
    assert (await client.get(f"/api/v1/units/{unit['id']}", headers=h)).json()["status"] == \
        "available"


async def test_a_call_linked_to_a_dispatched_case_joins_it_where_it_stands(client, operator):
    from tests.conftest import add_unit

    h = operator.headers
    lat, lng = spot()
    first = await raise_case(client, h, lat=lat, lng=lng, source="phone", severity="high")
    unit = await add_unit(client, h)
    r = await client.post(f"{CASES}/{first['id']}/dispatch", json={"unit_id": unit["id"]},
                          headers=h)
    assert r.status_code == 200, r.text
    second = await raise_case(client, lat=lat, lng=lng)
    r = await client.post(f"{CASES}/{second['id']}/link", json={"to": first["id"]}, headers=h)
    assert r.status_code == 200, r.text
    joined = r.json()
    assert (joined["status"], joined["severity"]) == ("dispatched", "high")
    assert [e["action"] for e in (await read(client, operator, second))["events"]] == [
        "raise", "link", "triage", "dispatch"]
    r = await client.post(f"{CASES}/{first['id']}/cancel", json={"reason": "caller rang back"},
                          headers=h)
    assert r.status_code == 200, r.text
    ended = await read(client, operator, second)
    assert ended["status"] == "cancelled" and "caller rang back" in ended["cancel_reason"]


async def test_a_linked_call_moves_only_with_its_primary_but_may_be_cancelled(client, operator):
    h = operator.headers
    first, second = await linked_pair(client, operator)
    for action, body in (("triage", {"severity": "low"}), ("dispatch", {}), ("arrive", {}),
                         ("close", {})):
        r = await client.post(f"{CASES}/{second['id']}/{action}", json=body, headers=h)
        assert r.status_code == 409, (action, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        if action == "triage":
            assert r.json()["code"] == "case_linked" and first["id"] in r.json()["detail"]
    r = await client.post(f"{CASES}/{second['id']}/cancel", json={"reason": "prank"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    # The primary is untouched by its linked call's own cancellation.
    assert (await read(client, operator, first))["status"] == "raised"


async def test_linking_a_primary_brings_its_linked_calls_along(client, operator):
    h = operator.headers
    first, second = await linked_pair(client, operator)
    lat, lng = spot()
    other = await raise_case(client, h, lat=lat, lng=lng, source="phone", severity="medium")
    r = await client.post(f"{CASES}/{first['id']}/link", json={"to": other["id"]}, headers=h)
    assert r.status_code == 200, r.text
    for case in (first, second):
        moved = await read(client, operator, case)
        assert moved["linked_to"] == other["id"] and moved["status"] == "triaged", moved
    assert (await read(client, operator, second))["events"][-2]["action"] == "link"
    # Linking to a linked call is refused: the chain stays one primary deep.
    third = await raise_case(client, lat=lat, lng=lng)
    r = await client.post(f"{CASES}/{third['id']}/link", json={"to": second["id"]}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "primary_is_linked"


async def test_a_call_with_a_unit_of_its_own_is_not_linked(client, operator):
    from tests.conftest import add_unit

    h = operator.headers
    lat, lng = spot()
    first = await raise_case(client, h, lat=lat, lng=lng, source="phone")
    second = await raise_case(client, h, lat=lat, lng=lng, source="phone", severity="high")
    unit = await add_unit(client, h)
    r = await client.post(f"{CASES}/{second['id']}/dispatch", json={"unit_id": unit["id"]},
                          headers=h)
    assert r.status_code == 200, r.text
    r = await client.post(f"{CASES}/{second['id']}/link", json={"to": first["id"]}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "case_has_unit"
    # The other way round works: the first call joins the dispatched one.
    r = await client.post(f"{CASES}/{first['id']}/link", json={"to": second["id"]}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "dispatched"


async def test_a_slow_geocoder_never_delays_or_refuses_an_sos(client, operator, app, database_url):
    """A region re-import (or anything) holding the geocoder's table: the SOS is accepted at once
    without its address, and the address is filled in, audited, once the table is free."""
    import time

    import psycopg

    from dispatch import case_address

    lat, lng = 60.1686, 24.9414  # beside 52 Aleksanterinkatu
    libpq = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq) as blocker:
        blocker.execute("LOCK TABLE geocode_entries IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        case = await raise_case(client, lat=lat, lng=lng)
        taken = time.monotonic() - started
        assert case["address"] is None and case["status"] == "raised"
        assert case["recommended_hospitals"], "the rest of intake is untouched"
        # Bounded by the lookup timeout (300 ms a statement), not by the lock.
        assert taken < 5, taken
        blocker.rollback()
    await asyncio.wait_for(case_address.settle(), timeout=60)
    read = (await client.get(f"{CASES}/{case['id']}", headers=operator.headers)).json()
    assert "Aleksanterinkatu" in read["address"]
    address = [e for e in read["events"] if e["action"] == "address"]
    assert len(address) == 1 and address[0]["actor"] == "geocoder"
