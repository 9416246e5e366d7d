"""The region's diversion policy through the API: who may set it, and a critical case that goes
to a diverting hospital under it (both ETAs explained), while a high one does not."""

from __future__ import annotations

import asyncio

import pytest_asyncio

from facilities.models import RegionDiversionPolicy
from tests.conftest import sign_in, sos_body
from tests.support.hospitals import CASES, KLUUVI
from tests.support.restore import restoring

URL = "/api/v1/regions/helsinki/diversion-policy"
NEAR_KLUUVI = {"lat": 60.1755, "lng": 24.9452}


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def _policy_as_it_was(app):
    """Each test sets the demo region's policy through the API: the next one (here or
    elsewhere, in any order) finds it as it was, usually never set (the 600 s default)."""
    async with restoring(app.state.session_factory, RegionDiversionPolicy, "helsinki"):
        yield


async def _burns_case(client, fresh_operator, severity: str) -> dict:
    case = (await client.post(CASES, json=sos_body(symptom_category="burns", **NEAR_KLUUVI))).json()
    r = await client.post(f"{CASES}/{case['id']}/triage", json={"severity": severity},
                          headers=fresh_operator.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_critical_case_may_go_to_a_diverting_hospital(app, client, fresh_operator):
    admin = await sign_in(app, client, "super_admin")
    default = (await client.get(URL, headers=fresh_operator.headers)).json()
    assert default["critical_override_seconds"] == 600 and default["default"] is True
    # Default 600 s: in a 2-km demo region no diverting hospital is that much nearer.
    critical = await _burns_case(client, fresh_operator, "critical")
    assert KLUUVI not in [h["name"] for h in critical["recommended_hospitals"]]
    r = await client.put(URL, json={"critical_override_seconds": 0}, headers=admin.headers)
    assert r.status_code == 200, r.text
    try:
        critical = await _burns_case(client, fresh_operator, "critical")
        top = critical["recommended_hospitals"][0]
        assert top["name"] == KLUUVI and top["diversion_overridden"] is True
        assert "diversion overridden" in top["explanation"]
        assert critical["recommendation"]["diversion_policy"] == {"critical_override_s": 0.0}
        high = await _burns_case(client, fresh_operator, "high")
        assert KLUUVI not in [h["name"] for h in high["recommended_hospitals"]]
        assert {s["name"]: s["reason"] for s in high["recommendation"]["skipped"]}[KLUUVI] == (
            "diverting")
    finally:
        r = await client.put(URL, json={"critical_override_seconds": 600}, headers=admin.headers)
        assert r.status_code == 200


async def test_policy_access_and_bad_input(app, client, fresh_operator):
    admin = await sign_in(app, client, "super_admin")
    assert (await client.get(URL)).status_code == 401
    r = await client.put(URL, json={"critical_override_seconds": 300},
                         headers=fresh_operator.headers)
    assert r.status_code == 403
    r = await client.get("/api/v1/regions/atlantis/diversion-policy",
                         headers=fresh_operator.headers)
    assert r.status_code == 404 and r.json()["code"] == "region_not_found"
    r = await client.put("/api/v1/regions/atlantis/diversion-policy",
                         json={"critical_override_seconds": 300}, headers=admin.headers)
    assert r.status_code == 404
    for body in ({"critical_override_seconds": -1}, {"critical_override_seconds": 99999},
                 {"critical_override_seconds": "soon"}, {}, {"critical_override_seconds": 1,
                                                             "x": 1}):
        r = await client.put(URL, json=body, headers=admin.headers)
        assert r.status_code == 422, body
    both = await asyncio.gather(*(client.put(URL, json={"critical_override_seconds": 600},
                                             headers=admin.headers) for _ in range(2)))
    assert [b.status_code for b in both] == [200, 200]
