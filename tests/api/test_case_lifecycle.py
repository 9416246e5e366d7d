"""The lifecycle over HTTP: legal moves, 409s, races, roles, listing."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from dispatch import service as case_service
from dispatch.case_events import Actor
from dispatch.lifecycle import CaseAction
from tests.conftest import add_unit, sign_in, sos_body

CASES = "/api/v1/emergency/cases"


async def new_case(client) -> dict:
    r = await client.post(CASES, json=sos_body())
    assert r.status_code == 201
    return r.json()


async def test_full_lifecycle_is_timestamped_and_audited(client, operator):
    case = await new_case(client)
    url = f"{CASES}/{case['id']}"
    h = operator.headers
    r = await client.post(f"{url}/triage", json={"severity": "critical"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["severity"] == "critical" and r.json()["triaged_at"]
    await add_unit(client, h)
    assert (await client.post(f"{url}/dispatch", headers=h)).json()["status"] == "dispatched"
    assert (await client.post(f"{url}/arrive", headers=h)).json()["arrived_at"]
    closed = (await client.post(f"{url}/close", json={"reason": "handed over"}, headers=h)).json()
    assert closed["status"] == "closed" and closed["close_reason"] == "handed over"
    assert closed["allowed_actions"] == []
    full = (await client.get(url, headers=h)).json()
    assert full["dispatch"]["completed_at"]  # closing released the unit
    assert [e["to_status"] for e in full["events"]] == [
        "raised", "triaged", "dispatched", "arrived", "closed"
    ]
    assert all(e["actor"].startswith("emergency_operator:") for e in full["events"][1:])
    stamps = [
        full[k] for k in ("raised_at", "triaged_at", "dispatched_at", "arrived_at", "closed_at")
    ]
    assert stamps == sorted(stamps)


async def test_illegal_transition_is_409_with_a_code(client, operator):
    case = await new_case(client)
    r = await client.post(f"{CASES}/{case['id']}/arrive", headers=operator.headers)
    assert r.status_code == 409
    problem = r.json()
    assert problem["code"] == "invalid_transition"
    assert problem["current_status"] == "raised"
    assert set(problem["allowed_actions"]) == {"triage", "cancel"}


async def test_cancel_needs_a_reason_and_is_final(client, operator):
    case = await new_case(client)
    url = f"{CASES}/{case['id']}"
    r = await client.post(f"{url}/cancel", json={}, headers=operator.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = await client.post(f"{url}/cancel", json={"reason": "  "}, headers=operator.headers)
    assert r.status_code == 422
    r = await client.post(
        f"{url}/cancel", json={"reason": "duplicate call"}, headers=operator.headers
    )
    assert r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "duplicate call"
    r = await client.post(f"{url}/triage", json={"severity": "low"}, headers=operator.headers)
    assert r.status_code == 409


async def test_concurrent_transitions_one_wins_one_409(client, operator):
    for _ in range(5):
        case = await new_case(client)
        url = f"{CASES}/{case['id']}"
        a, b = await asyncio.gather(
            client.post(f"{url}/cancel", json={"reason": "hoax"}, headers=operator.headers),
            client.post(f"{url}/cancel", json={"reason": "duplicate"}, headers=operator.headers),
        )
        assert sorted([a.status_code, b.status_code]) == [200, 409], (a.text, b.text)
        loser = a if a.status_code == 409 else b
        assert loser.json()["code"] in {"concurrent_update", "invalid_transition"}
        final = (await client.get(url, headers=operator.headers)).json()
        assert [e["to_status"] for e in final["events"]] == ["raised", "cancelled"]
        assert final["version"] == 2


async def test_interleaved_transitions_lose_no_update(app, client):
    """Both sessions read version 1; the second commit must fail, not overwrite the first."""
    case = await new_case(client)
    case_id = uuid.UUID(case["id"])
    actor = Actor(user_id=None, label="test")
    async with app.state.session_factory() as first, app.state.session_factory() as second:
        await case_service.stage_action(
            db_session=first, case_id=case_id, action=CaseAction.TRIAGE, actor=actor,
            changes={"severity": "high"},
        )
        await case_service.stage_action(
            db_session=second, case_id=case_id, action=CaseAction.CANCEL, actor=actor,
            reason="caller says false alarm",
        )
        await case_service.commit_change(db_session=first)
        with pytest.raises(case_service.ConcurrentUpdate):
            await case_service.commit_change(db_session=second)
    async with app.state.session_factory() as session:
        stored = await case_service.get_case(db_session=session, case_id=case_id)
        events = await case_service.case_events(db_session=session, case_id=case_id)
    assert (stored.status, stored.severity, stored.version) == ("triaged", "high", 2)
    assert [e.to_status for e in events] == ["raised", "triaged"]


async def test_many_concurrent_same_action_exactly_one_wins(client, operator):
    case = await new_case(client)
    url = f"{CASES}/{case['id']}"
    responses = await asyncio.gather(
        *[client.post(f"{url}/triage", json={"severity": "low"}, headers=operator.headers)
          for _ in range(8)]
    )
    codes = sorted(r.status_code for r in responses)
    # Re-triage is legal, so later ones may also win sequentially; none may be lost or 500.
    assert set(codes) <= {200, 409} and 200 in codes
    final = (await client.get(url, headers=operator.headers)).json()
    assert final["version"] == 1 + codes.count(200)
    assert len(final["events"]) == 1 + codes.count(200)


async def test_if_match_guards_against_stale_reads(client, operator):
    case = await new_case(client)
    url = f"{CASES}/{case['id']}"
    r = await client.get(url, headers=operator.headers)
    assert r.headers["etag"] == '"1"'
    ok = await client.post(
        f"{url}/triage", json={"severity": "low"}, headers={**operator.headers, "If-Match": '"1"'}
    )
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await client.post(
        f"{url}/triage", json={"severity": "high"}, headers={**operator.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    bad = await client.post(
        f"{url}/triage", json={"severity": "high"}, headers={**operator.headers, "If-Match": "x"}
    )
    assert bad.status_code == 422


async def test_unknown_case_is_404(client, operator):
    r = await client.get(f"{CASES}/{uuid.uuid4()}", headers=operator.headers)
    assert r.status_code == 404 and r.json()["code"] == "case_not_found"
    r = await client.post(
        f"{CASES}/{uuid.uuid4()}/triage", json={"severity": "low"}, headers=operator.headers
    )
    assert r.status_code == 404
    r = await client.get(f"{CASES}/not-a-uuid", headers=operator.headers)
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("triage", {"severity": "low"}),
        ("dispatch", {}),
        ("arrive", {}),
        ("close", {}),
        ("cancel", {"reason": "x"}),
    ],
)
async def test_staff_actions_need_a_token_and_the_operator_role(client, patient_user, path, body):
    case = await new_case(client)
    url = f"{CASES}/{case['id']}/{path}"
    r = await client.post(url, json=body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    r = await client.post(url, json=body, headers=patient_user.headers)
    assert r.status_code == 403 and r.json()["code"] == "role_forbidden"
    r = await client.post(url, json=body, headers={"Authorization": "Bearer not.a.jwt"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


async def test_super_admin_may_act(app, client):
    admin = await sign_in(app, client, "super_admin")
    case = await new_case(client)
    r = await client.post(
        f"{CASES}/{case['id']}/triage", json={"severity": "medium"}, headers=admin.headers
    )
    assert r.status_code == 200


async def test_triage_rejects_unknown_severity_and_fields(client, operator):
    case = await new_case(client)
    url = f"{CASES}/{case['id']}/triage"
    r = await client.post(url, json={"severity": "apocalyptic"}, headers=operator.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "severity"
    r = await client.post(url, json={"severity": "low", "colour": "red"}, headers=operator.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"


async def test_dispatch_to_unknown_hospital_is_422(client, operator):
    case = await new_case(client)
    url = f"{CASES}/{case['id']}"
    await client.post(f"{url}/triage", json={"severity": "low"}, headers=operator.headers)
    r = await client.post(
        f"{url}/dispatch", json={"hospital_id": str(uuid.uuid4())}, headers=operator.headers
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "hospital_id"
    assert (await client.get(url, headers=operator.headers)).json()["status"] == "triaged"


async def test_listing_is_newest_first_and_pages_without_gaps(client, operator):
    created = [(await new_case(client))["id"] for _ in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, "status": "raised"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(CASES, params=params, headers=operator.headers)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    positions = [seen.index(i) for i in created]
    assert positions == sorted(positions, reverse=True)


async def test_listing_filters_and_validation(client, operator, patient_user):
    r = await client.get(CASES, params={"status": "bogus"}, headers=operator.headers)
    assert r.status_code == 422
    r = await client.get(CASES, params={"limit": 0}, headers=operator.headers)
    assert r.status_code == 422
    r = await client.get(CASES, params={"cursor": "!!!"}, headers=operator.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"
    r = await client.get(CASES, params={"since": "2030-01-01T00:00:00Z"}, headers=operator.headers)
    assert r.status_code == 200 and r.json()["items"] == []
    r = await client.get(CASES, params={"since": "2030-01-01T00:00:00"}, headers=operator.headers)
    assert r.status_code == 422
    assert (await client.get(CASES)).status_code == 401
    assert (await client.get(CASES, headers=patient_user.headers)).status_code == 403
