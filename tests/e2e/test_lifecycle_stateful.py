"""Hypothesis drives random action sequences through the real API
and checks the model after each."""

from __future__ import annotations

import uuid

import pyotp
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule
from starlette.testclient import TestClient

from console_api.app import create_app
from dispatch.lifecycle import TRANSITIONS, CaseAction, CaseStatus
from identity import service as identity_service
from messaging.settings import MessagingSettings
from tests.conftest import PASSWORD, sos_body

CASES = "/api/v1/emergency/cases"
BODIES = {
    CaseAction.TRIAGE: st.fixed_dictionaries(
        {"severity": st.sampled_from(["low", "medium", "high", "critical"])}
    ),
    CaseAction.DISPATCH: st.just({}),
    CaseAction.ARRIVE: st.just({}),
    CaseAction.CLOSE: st.one_of(st.just({}), st.just({"reason": "treated on scene"})),
    CaseAction.CANCEL: st.one_of(st.just({"reason": "caller cancelled"}), st.just({"reason": " "})),
}


@pytest.fixture(scope="module")
def api(data_settings, identity_settings):
    # One operator drives ~1,200 requests a minute through the state machine: the per-user API
    # limit (600/min) is not what this test is about (tests/api/test_security_hardening.py is).
    unlimited = identity_settings.model_copy(update={"api_per_minute": 1_000_000})
    app = create_app(
        data_settings=data_settings,
        identity_settings=unlimited,
        # Like the shared app: the fleet tests' app sends the SMS, this one must not steal them.
        messaging_settings=MessagingSettings(LIFELINE_SMS_SENDER=False),
    )
    with TestClient(app, raise_server_exceptions=True) as client:
        email = f"stateful-{uuid.uuid4().hex[:8]}@lifeline.test"
        secret = pyotp.random_base32(length=32)  # staff sign in with a second factor

        async def provision() -> None:
            async with app.state.session_factory() as session:
                await identity_service.create_user(
                    db_session=session, email=email, password=PASSWORD,
                    roles=["emergency_operator"],
                    totp_secret=secret,
                )

        client.portal.call(provision)
        token = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD,
                                                  "totp": pyotp.TOTP(secret).now()}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield client


class CaseLifecycle(RuleBasedStateMachine):
    """The model: each case's expected status and the history of statuses it passed through."""

    client: TestClient
    cases = Bundle("cases")

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, list[CaseStatus]] = {}
        self.last: str | None = None

    @rule(target=cases)
    def raise_case(self):
        r = self.client.post(CASES, json=sos_body())
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        self.model[case_id] = [CaseStatus.RAISED]
        self.last = case_id
        return case_id

    @rule(case_id=cases, action=st.sampled_from(list(CaseAction)), data=st.data())
    def act(self, case_id, action, data):
        body = data.draw(BODIES[action])
        current = self.model[case_id][-1]
        if action is CaseAction.DISPATCH:
            unit = self.client.post("/api/v1/units", json={
                "call_sign": f"S-{uuid.uuid4().hex[:8]}", "type": "BLS",
                "station_lat": 60.1690, "station_lng": 24.9400,
            })
            assert unit.status_code == 201, unit.text
            body = {"unit_id": unit.json()["id"]}
        r = self.client.post(f"{CASES}/{case_id}/{action.value}", json=body)
        target = TRANSITIONS.get((current, action))
        if target is None:
            assert r.status_code == 409, r.text
            assert r.json()["code"] == "invalid_transition"
        elif action is CaseAction.CANCEL and not body["reason"].strip():
            assert r.status_code == 422, r.text
        else:
            assert r.status_code == 200, r.text
            assert r.json()["status"] == target.value
            self.model[case_id].append(target)
        self.last = case_id

    @rule(case_id=consumes(cases))
    def forget(self, case_id):
        """Stop acting on a case (keeps the bundle small so walks go deep)."""

    @invariant()
    def stored_case_matches_model(self):
        if self.last is None:
            return
        case = self.client.get(f"{CASES}/{self.last}").json()
        history = self.model[self.last]
        assert case["status"] == history[-1].value
        assert case["version"] == len(history)
        events = case["events"]
        assert [e["to_status"] for e in events] == [s.value for s in history]
        for event in events[1:]:
            legal = {
                (src.value, dst.value) for (src, _), dst in TRANSITIONS.items()
            }
            assert (event["from_status"], event["to_status"]) in legal
        stamped = {s for s in CaseStatus if case[f"{s.value}_at"]}
        assert stamped == set(history)


def test_case_lifecycle_state_machine(api):
    CaseLifecycle.client = api
    run = CaseLifecycle.TestCase
    run.settings = settings(
        max_examples=30,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    run().runTest()
