"""Coverage endpoints attacked: each role, expired and forged tokens, garbage, twice at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from data.base import utcnow
from facilities.models import Hospital
from tests.api.test_sessions_and_mfa import claims_for
from tests.conftest import add_unit, sign_in, sos_body

REGION = "helsinki"
ROLES = ("patient", "doctor", "hospital_admin", "emergency_operator", "super_admin")
ALLOWED = {"emergency_operator", "super_admin"}  # coverage.read and unit.manage alike


@pytest.fixture
async def world(app, client, operator):
    """A unit, a standby post and a case, as the operator made them."""
    unit = await add_unit(client, operator.headers, lat=60.1685, lng=24.9415)
    post = await client.post("/api/v1/coverage/posts", headers=operator.headers, json={
        "region": REGION, "name": f"Attack {uuid.uuid4().hex[:6]}", "lat": 60.1730,
        "lng": 24.9450})
    assert post.status_code == 201, post.text
    case = await client.post("/api/v1/emergency/cases", json=sos_body())
    assert case.status_code == 201, case.text
    return {"unit": unit, "post": post.json(), "case": case.json()}


def _calls(world: dict) -> list[tuple[str, str, dict]]:
    """(method, path, request kwargs) for every coverage endpoint."""
    return [
        ("GET", "/api/v1/coverage", {"params": {"region": REGION}}),
        ("GET", "/api/v1/coverage/regions", {}),
        ("GET", "/api/v1/coverage/move-ups", {"params": {"region": REGION}}),
        ("GET", "/api/v1/coverage/posts", {"params": {"region": REGION}}),
        ("GET", "/api/v1/coverage/dispatch-cost", {"params": {"case_id": world["case"]["id"]}}),
        ("POST", "/api/v1/coverage/posts", {"json": {
            "region": REGION, "name": f"Role {uuid.uuid4().hex[:6]}", "lat": 60.172,
            "lng": 24.944}}),
    ]


async def test_each_role_gets_exactly_what_the_matrix_allows(app, client, world):
    async with app.state.session_factory() as session:
        hospital = await session.scalar(select(Hospital.id).limit(1))
    users = {role: await sign_in(app, client, role,
                                 hospital_id=hospital if role == "hospital_admin" else None)
             for role in ROLES}
    for role, user in users.items():
        for method, path, kwargs in _calls(world):  # a fresh post name per caller
            got = await client.request(method, path, headers=user.headers, **kwargs)
            if role in ALLOWED:
                assert got.status_code in (200, 201), (role, path, got.text)
            else:
                assert got.status_code == 403, (role, path, got.text)
                assert got.headers["content-type"].startswith("application/problem+json")
    # the move-up last: it changes the unit (the first allowed role moves it, the second finds
    # it already on its way)
    url = f"/api/v1/units/{world['unit']['id']}/move-up"
    body = {"post_id": world["post"]["id"]}
    codes = {}
    for role, user in users.items():
        codes[role] = (await client.post(url, json=body, headers=user.headers)).status_code
    assert codes == {"patient": 403, "doctor": 403, "hospital_admin": 403,
                     "emergency_operator": 201, "super_admin": 409}


async def test_expired_forged_and_missing_tokens_are_401(app, client, world, operator,
                                                         identity_settings):
    expired = jwt.encode(
        {**claims_for(operator.user_id, identity_settings, roles=["emergency_operator"]),
         "exp": utcnow() - timedelta(seconds=5)}, identity_settings.secret_key)
    forged = jwt.encode(
        claims_for(operator.user_id, identity_settings, roles=["emergency_operator"]),
        "not-the-server-key-" + "x" * 40)
    calls = _calls(world) + [
        ("POST", f"/api/v1/units/{world['unit']['id']}/move-up",
         {"json": {"post_id": world["post"]["id"]}})]
    for method, path, kwargs in calls:
        for headers in ({}, {"Authorization": f"Bearer {expired}"},
                        {"Authorization": f"Bearer {forged}"},
                        {"Authorization": "Bearer garbage"}, {"Authorization": "Basic eA=="}):
            got = await client.request(method, path, headers=headers, **kwargs)
            assert got.status_code == 401, (path, headers, got.text)


async def test_other_objects_ids_and_garbage_are_4xx_never_500(client, operator, world):
    h = operator.headers
    for params, status in [
        ({"case_id": str(uuid.uuid4())}, 404),
        ({"case_id": "not-a-uuid"}, 422),
        ({}, 422),
        ({"case_id": world["unit"]["id"]}, 404),  # a unit's id is not a case
    ]:
        got = await client.get("/api/v1/coverage/dispatch-cost", params=params, headers=h)
        assert got.status_code == status, (params, got.text)
    # a post's id as a unit, a unit's id as a post
    got = await client.post(f"/api/v1/units/{world['post']['id']}/move-up",
                            json={"post_id": world["post"]["id"]}, headers=h)
    assert got.status_code == 404
    got = await client.post(f"/api/v1/units/{world['unit']['id']}/move-up",
                            json={"post_id": world["unit"]["id"]}, headers=h)
    assert got.status_code == 404 and got.json()["code"] == "post_not_found"
    for garbage in (b"{", b"[]", b'{"post_id": null}', b"\xff\xfe", b"x" * 70_000):
        got = await client.post(f"/api/v1/units/{world['unit']['id']}/move-up", content=garbage,
                                headers={**h, "Content-Type": "application/json"})
        assert got.status_code in (400, 413, 422), (garbage[:10], got.text)
    for region in ("", "x" * 101, "../etc", "helsinki' OR 1=1 --"):
        got = await client.get("/api/v1/coverage", params={"region": region}, headers=h)
        assert got.status_code in (404, 422), (region, got.text)


async def test_twice_at_once(client, operator, world):
    h = operator.headers
    body = {"region": REGION, "name": f"Twin {uuid.uuid4().hex[:6]}", "lat": 60.171,
            "lng": 24.943}
    made = await asyncio.gather(*[client.post("/api/v1/coverage/posts", json=body, headers=h)
                                  for _ in range(2)])
    assert sorted(r.status_code for r in made) == [201, 409], [r.text for r in made]
    params = {"case_id": world["case"]["id"]}
    costs = await asyncio.gather(*[
        client.get("/api/v1/coverage/dispatch-cost", params=params, headers=h)
        for _ in range(2)])
    assert [r.status_code for r in costs] == [200, 200]
    assert costs[0].json()["units"] == costs[1].json()["units"]
    reads = await asyncio.gather(*[
        client.get(f"/api/v1/emergency/cases/{world['case']['id']}", headers=h)
        for _ in range(2)])
    assert [r.status_code for r in reads] == [200, 200]
    assert (reads[0].json()["recommended_units"] == reads[1].json()["recommended_units"])
    figures = await asyncio.gather(*[
        client.get("/api/v1/coverage", params={"region": REGION}, headers=h) for _ in range(2)])
    assert [r.status_code for r in figures] == [200, 200]
    assert figures[0].json()["share_any"] == figures[1].json()["share_any"]
