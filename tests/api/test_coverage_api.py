"""Coverage API against the real PostgreSQL/PostGIS and Redis: figures, posts, move-ups, attacks."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from data.base import utcnow
from fleet_coverage.models import CoverageDemand
from tests.api.test_sessions_and_mfa import claims_for
from tests.conftest import add_unit, random_phone, sign_in, sos_body
from tests.support.restore import restoring

COVERAGE = "/api/v1/coverage"
REGION = "helsinki"
OTHER = "coverage-test-far"


@pytest.fixture(scope="module")
def far_region(app, database_url):
    """A second, synthetic region far from Helsinki (to attack cross-region ids)."""
    from sqlalchemy import create_engine

    from routing import store as road_store
    from routing.synthetic import synthetic_grid

    graph = synthetic_grid(8, center=(33.69, 73.05))
    # Importing a region is the owner's job (the CLI), not the server's least-privilege role.
    engine = create_engine(database_url)
    path = tempfile.mkdtemp(prefix="lifeline-cov-") + "/far.npz"
    graph.save(path)
    with Session(engine) as session:
        road_store.write_region(session, OTHER, graph, cache_path=path)
        session.commit()
    app.state.destinations.load_region(app.state.sync_engine, OTHER)
    yield OTHER
    app.state.destinations.regions.pop(OTHER, None)
    with Session(engine) as session:
        session.execute(text("DELETE FROM coverage_posts WHERE region = :r"), {"r": OTHER})
        session.execute(text("DELETE FROM regions WHERE name = :r"), {"r": OTHER})
        session.commit()
    engine.dispose()


async def _units(client, headers, n=2, **kw):
    return [await add_unit(client, headers, **kw) for _ in range(n)]


async def test_coverage_now_counts_free_units_by_road(app, client, operator):
    h = operator.headers
    await _units(client, h, 1, lat=60.1690, lng=24.9400, unit_type="ALS")
    await _units(client, h, 1, lat=60.1750, lng=24.9450, unit_type="BLS")
    got = await client.get(COVERAGE, params={"region": REGION, "minutes": 8}, headers=h)
    assert got.status_code == 200, got.text
    body = got.json()
    assert 0 < body["share_any"] <= 1 and 0 <= body["share_als"] <= body["share_any"]
    assert body["cell_size_m"] == 250 and body["cells"] > 10
    assert body["uncovered"]["type"] == "FeatureCollection"
    assert body["units"] and all("marginal_pp" in u for u in body["units"])
    # a 1-minute target covers less than an 8-minute one, never more
    short = (await client.get(COVERAGE, params={"region": REGION, "minutes": 1}, headers=h)).json()
    assert short["share_any"] <= body["share_any"]
    assert len(short["uncovered"]["features"]) >= len(body["uncovered"]["features"])


async def test_coverage_refuses_bad_input_and_wrong_callers(
    app, client, operator, identity_settings
):
    h = operator.headers
    for params, status in [
        ({"region": "atlantis"}, 404),
        ({"region": REGION, "minutes": 0}, 422),
        ({"region": REGION, "minutes": "eight"}, 422),
        ({"region": REGION, "minutes": 999}, 422),
        ({}, 422),
    ]:
        got = await client.get(COVERAGE, params=params, headers=h)
        assert got.status_code == status, (params, got.text)
        assert got.headers["content-type"].startswith("application/problem+json")
    patient = await sign_in(app, client, "patient")
    doctor = await sign_in(app, client, "doctor")
    expired = jwt.encode(
        {**claims_for(operator.user_id, identity_settings, roles=["emergency_operator"]),
         "exp": utcnow() - timedelta(seconds=5)},
        identity_settings.secret_key,
    )
    for path in (COVERAGE, f"{COVERAGE}/move-ups", f"{COVERAGE}/posts"):
        params = {"region": REGION}
        assert (await client.get(path, params=params)).status_code == 401
        for user in (patient, doctor):
            assert (await client.get(path, params=params, headers=user.headers)).status_code == 403
        bad = {"Authorization": f"Bearer {expired}"}
        assert (await client.get(path, params=params, headers=bad)).status_code == 401
        junk = {"Authorization": "Bearer not.a.token"}
        assert (await client.get(path, params=params, headers=junk)).status_code == 401


async def test_posts_standby_points_and_their_attacks(app, client, operator, far_region):
    h = operator.headers
    await add_unit(client, h, lat=60.1700, lng=24.9410)
    listed = await client.get(f"{COVERAGE}/posts", params={"region": REGION}, headers=h)
    assert listed.status_code == 200
    assert any(p["kind"] == "station" for p in listed.json())
    name = f"Standby {uuid.uuid4().hex[:6]}"
    body = {"region": REGION, "name": name, "lat": 60.1720, "lng": 24.9420}
    made = await client.post(f"{COVERAGE}/posts", json=body, headers=h)
    assert made.status_code == 201 and made.json()["kind"] == "standby"
    assert (await client.post(f"{COVERAGE}/posts", json=body, headers=h)).status_code == 409
    outside = {**body, "name": "Far away", "lat": 33.69, "lng": 73.05}
    got = await client.post(f"{COVERAGE}/posts", json=outside, headers=h)
    assert got.status_code == 409 and got.json()["code"] == "post_outside_region"
    for junk in ({**body, "lat": "north"}, {**body, "extra": 1}, {**body, "lat": 100}, {}):
        assert (await client.post(f"{COVERAGE}/posts", json=junk, headers=h)).status_code == 422
    patient = await sign_in(app, client, "patient")
    assert (await client.post(f"{COVERAGE}/posts", json=body, headers=patient.headers)
            ).status_code == 403
    far = {"region": far_region, "name": "Far post", "lat": 33.69, "lng": 73.05}
    assert (await client.post(f"{COVERAGE}/posts", json=far, headers=h)).status_code == 201


async def _post_id(client, h, region, name):
    posts = (await client.get(f"{COVERAGE}/posts", params={"region": region}, headers=h)).json()
    return next(p["id"] for p in posts if p["name"] == name)


async def test_move_up_is_audited_pushed_texted_and_happens_once(app, client, operator,
                                                                  far_region):
    h = operator.headers
    phone = random_phone()
    unit = await add_unit(client, h, lat=60.1670, lng=24.9400, phones=[phone])
    name = f"Standby {uuid.uuid4().hex[:6]}"
    made = await client.post(f"{COVERAGE}/posts", json={
        "region": REGION, "name": name, "lat": 60.1745, "lng": 24.9480}, headers=h)
    post_id = made.json()["id"]
    url = f"/api/v1/units/{unit['id']}/move-up"
    first, second = await asyncio.gather(
        client.post(url, json={"post_id": post_id}, headers=h),
        client.post(url, json={"post_id": post_id}, headers=h),
    )
    codes = sorted([first.status_code, second.status_code])
    assert codes == [201, 409], (first.text, second.text)
    loser = first if first.status_code == 409 else second
    assert loser.json()["code"] == "move_up_pending"
    async with app.state.session_factory() as session:
        texts = (await session.execute(text(
            "SELECT body FROM sms_messages WHERE unit_id = :u AND purpose = 'move_up'"
        ), {"u": unit["id"]})).all()
        events = (await session.execute(text(
            "SELECT payload FROM outbox WHERE channel = 'coverage.updated' "
            "AND event_type = 'coverage.move_up' AND aggregate_id = :u"
        ), {"u": unit["id"]})).all()
        audited = (await session.execute(text(
            "SELECT outcome FROM audit_log WHERE object_id = :u AND action LIKE '%move-up%'"
        ), {"u": unit["id"]})).all()
    assert len(texts) == 1 and name in texts[0][0]
    assert len(events) == 1 and events[0][0]["post_id"] == post_id
    assert len(audited) >= 2  # both calls, allowed and refused
    # the coverage figure now places the unit at its post
    now = (await client.get(COVERAGE, params={"region": REGION}, headers=h)).json()
    mine = next(u for u in now["units"] if u["unit_id"] == unit["id"])
    assert mine["position_source"] == "move_up" and mine["lat"] == pytest.approx(60.1745)


async def test_move_up_attacks(app, client, operator, far_region):
    h = operator.headers
    unit = await add_unit(client, h, lat=60.1680, lng=24.9390)
    url = f"/api/v1/units/{unit['id']}/move-up"
    far_post = await client.post(f"{COVERAGE}/posts", json={
        "region": far_region, "name": f"Far {uuid.uuid4().hex[:6]}", "lat": 33.69, "lng": 73.05,
    }, headers=h)
    got = await client.post(url, json={"post_id": far_post.json()["id"]}, headers=h)
    assert got.status_code == 409 and got.json()["code"] == "post_outside_region"
    got = await client.post(url, json={"post_id": str(uuid.uuid4())}, headers=h)
    assert got.status_code == 404 and got.json()["code"] == "post_not_found"
    posts = (await client.get(f"{COVERAGE}/posts", params={"region": REGION}, headers=h)).json()
    post_id = posts[0]["id"]
    got = await client.post(f"/api/v1/units/{uuid.uuid4()}/move-up", json={"post_id": post_id},
                            headers=h)
    assert got.status_code == 404
    for junk in ({"post_id": "nope"}, {}, {"post_id": post_id, "x": 1}):
        assert (await client.post(url, json=junk, headers=h)).status_code == 422
    assert (await client.post("/api/v1/units/not-a-uuid/move-up", json={"post_id": post_id},
                              headers=h)).status_code == 422
    for role in ("patient", "doctor"):
        user = await sign_in(app, client, role)
        assert (await client.post(url, json={"post_id": post_id}, headers=user.headers)
                ).status_code == 403
    assert (await client.post(url, json={"post_id": post_id})).status_code == 401
    busy = await client.post(f"/api/v1/units/{unit['id']}/status",
                             json={"status": "out_of_service"}, headers=h)
    assert busy.status_code == 200
    got = await client.post(url, json={"post_id": post_id}, headers=h)
    assert got.status_code == 409 and got.json()["code"] == "unit_unavailable"
    await client.post(f"/api/v1/units/{unit['id']}/status", json={"status": "available"},
                      headers=h)


async def test_a_unit_sent_on_to_another_post_may_be_sent_back(app, client, operator):
    """Only the unit's latest move is pending: a move superseded by another does not block."""
    h = operator.headers
    unit = await add_unit(client, h, lat=60.1680, lng=24.9390)
    url = f"/api/v1/units/{unit['id']}/move-up"
    first, second = [(await client.post(f"{COVERAGE}/posts", json={
        "region": REGION, "name": f"Standby {uuid.uuid4().hex[:6]}", "lat": lat, "lng": 24.9450,
    }, headers=h)).json()["id"] for lat in (60.1720, 60.1760)]
    for post_id, status in ((first, 201), (first, 409), (second, 201), (first, 201)):
        got = await client.post(url, json={"post_id": post_id}, headers=h)
        assert got.status_code == status, got.text


async def test_move_up_proposals_respect_the_limits(app, client, operator):
    h = operator.headers
    got = await client.get(f"{COVERAGE}/move-ups", params={"region": REGION}, headers=h)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["solver_status"] in ("Optimal", "empty")
    assert len(body["proposals"]) <= body["limits"]["max_moves"]
    assert body["expected_after_pp"] >= body["expected_before_pp"]
    for p in body["proposals"]:
        assert p["drive_seconds"] <= body["limits"]["max_drive_minutes"] * 60
        assert any(post["id"] == p["post_id"] for post in body["posts"])


async def test_dispatch_cost_shows_coverage_lost_per_recommended_unit(app, client, operator):
    h = operator.headers
    await add_unit(client, h, lat=60.1695, lng=24.9385)
    case = await client.post("/api/v1/emergency/cases", json=sos_body())
    assert case.status_code == 201, case.text
    got = await client.get(f"{COVERAGE}/dispatch-cost", params={"case_id": case.json()["id"]},
                           headers=h)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["units"] and all(u["coverage_lost_pp"] >= 0 for u in body["units"])
    assert body["suggestion"]["unit_id"] == body["units"][0]["unit_id"]  # untriaged: fastest
    missing = await client.get(f"{COVERAGE}/dispatch-cost", params={"case_id": str(uuid.uuid4())},
                               headers=h)
    assert missing.status_code == 404
    patient = await sign_in(app, client, "patient")
    assert (await client.get(f"{COVERAGE}/dispatch-cost", params={"case_id": case.json()["id"]},
                             headers=patient.headers)).status_code == 403


async def test_the_case_read_shows_each_recommended_units_coverage_cost(app, client, operator):
    """Issue 24 item 4: next to each unit's ETA, the percentage points lost if it goes."""
    h = operator.headers
    # A read just before remembers the figures for a few seconds: a unit added meanwhile must
    # still get its own (random order once put another test's read right before this one).
    await add_unit(client, h, lat=60.1702, lng=24.9392)
    earlier = await client.post("/api/v1/emergency/cases", json=sos_body())
    await client.get(f"/api/v1/emergency/cases/{earlier.json()['id']}", headers=h)
    await add_unit(client, h, lat=60.1697, lng=24.9386)
    case = await client.post("/api/v1/emergency/cases", json=sos_body())
    assert case.status_code == 201, case.text
    assert "coverage_lost_pp" not in str(case.json())  # the SOS answer never waits for it
    read = await client.get(f"/api/v1/emergency/cases/{case.json()['id']}", headers=h)
    assert read.status_code == 200, read.text
    units = read.json()["recommended_units"]
    assert units and all(u["coverage_lost_pp"] is not None and u["coverage_lost_pp"] >= 0
                         and "eta_seconds" in u for u in units)
    # the same figures as the coverage report's marginal contribution of each free unit
    now = (await client.get(COVERAGE, params={"region": REGION}, headers=h)).json()
    marginal = {u["unit_id"]: u["marginal_pp"] for u in now["units"]}
    for u in units:
        assert u["coverage_lost_pp"] == pytest.approx(marginal[u["unit_id"]], abs=1e-3)
    cost = (await client.get(f"{COVERAGE}/dispatch-cost", params={"case_id": case.json()["id"]},
                             headers=h)).json()
    assert [u["coverage_lost_pp"] for u in cost["units"]] == [u["coverage_lost_pp"] for u in units]
    # a second read between two fleet changes is answered from the memo
    computed = app.state.dispatch_cost.computed
    again = await client.get(f"/api/v1/emergency/cases/{case.json()['id']}", headers=h)
    assert again.json()["recommended_units"] == units
    assert app.state.dispatch_cost.computed == computed
    # a fleet change seen by the watcher: the next read computes the new fleet's figure
    other = await add_unit(client, h, lat=60.1702, lng=24.9402)
    assert (await client.post(f"/api/v1/units/{other['id']}/status",
                              json={"status": "out_of_service"}, headers=h)).status_code == 200
    generation = app.state.coverage_book.generation
    assert (await client.post(f"/api/v1/units/{other['id']}/status",  # one more free unit
                              json={"status": "available"}, headers=h)).status_code == 200
    for _ in range(60):
        if app.state.coverage_book.generation > generation:
            break
        await asyncio.sleep(0.25)
    assert app.state.coverage_book.generation > generation
    await client.get(f"/api/v1/emergency/cases/{case.json()['id']}", headers=h)
    assert app.state.dispatch_cost.computed == computed + 1


async def test_a_unit_status_change_pushes_coverage(app, client, operator):
    h = operator.headers
    unit = await add_unit(client, h, lat=60.1710, lng=24.9420)
    got = await client.post(f"/api/v1/units/{unit['id']}/status",
                            json={"status": "out_of_service"}, headers=h)
    assert got.status_code == 200
    payload = None
    for _ in range(60):
        await asyncio.sleep(0.25)
        async with app.state.session_factory() as session:
            row = (await session.execute(text(
                "SELECT payload FROM outbox WHERE channel = 'coverage.updated' "
                "AND event_type = 'coverage.summary' AND payload->>'unit_id' = :u "
                "AND payload->>'status' = 'out_of_service' ORDER BY id DESC LIMIT 1"
            ), {"u": unit["id"]})).first()
        if row is not None:
            payload = row[0]
            break
    assert payload is not None, "no coverage.updated within 15 s of a status change"
    assert payload["region"] == REGION and 0 <= payload["share_any"] <= 1
    assert all(u["unit_id"] != unit["id"] for u in payload["units"])  # out of service: not free
    await client.post(f"/api/v1/units/{unit['id']}/status", json={"status": "available"},
                      headers=h)


async def test_demand_command_weights_coverage_by_case_history(app, client, operator,
                                                               data_settings):
    """`lifeline coverage demand --region` as an operator runs it (DATABASE_URL as make run)."""
    for _ in range(3):
        assert (await client.post("/api/v1/emergency/cases", json=sos_body())).status_code == 201
    # The command stores the region's demand grid in the shared database: put back what was
    # there (usually nothing), or every later coverage test would read this test's 200 m cells.
    async with restoring(app.state.session_factory, CoverageDemand, REGION):
        await _run_demand_command(client, operator, data_settings)


async def _run_demand_command(client, operator, data_settings) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    lifeline = Path(sys.executable).with_name("lifeline")
    done = await asyncio.to_thread(
        subprocess.run,
        [str(lifeline), "coverage", "demand", "--region", REGION, "--cell-size-m", "200"],
        env={**os.environ, "DATABASE_URL": data_settings.database_url},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cells of 200 m" in done.stdout
    got = (await client.get(COVERAGE, params={"region": REGION}, headers=operator.headers)).json()
    assert got["cell_size_m"] == 200 and got["demand_cases"] >= 3
    missing = await asyncio.to_thread(
        subprocess.run, [str(lifeline), "coverage", "demand", "--region", "atlantis"],
        env={**os.environ, "DATABASE_URL": data_settings.database_url},
        capture_output=True, text=True, timeout=120,
    )
    assert missing.returncode == 2 and "no region atlantis" in missing.stdout
