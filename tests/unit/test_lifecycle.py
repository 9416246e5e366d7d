"""The pure case state machine: the table, the errors, and random walks that never leave it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from data.errors import InvalidInput
from dispatch.lifecycle import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    TRANSITIONS,
    CaseAction,
    CaseStatus,
    InvalidTransition,
    allowed_actions,
    transition,
)

HAPPY_PATH = [
    (CaseAction.TRIAGE, CaseStatus.TRIAGED),
    (CaseAction.DISPATCH, CaseStatus.DISPATCHED),
    (CaseAction.ARRIVE, CaseStatus.ARRIVED),
    (CaseAction.CLOSE, CaseStatus.CLOSED),
]


def test_happy_path_reaches_closed():
    status = CaseStatus.RAISED
    for action, expected in HAPPY_PATH:
        status = transition(status, action).to_status
        assert status is expected


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
def test_cancel_from_every_open_state_needs_a_reason(status):
    with pytest.raises(InvalidInput) as err:
        transition(status, CaseAction.CANCEL, reason="   ")
    assert err.value.code == "reason_required"
    move = transition(status, CaseAction.CANCEL, reason=" caller hung up, no answer on callback ")
    assert move.to_status is CaseStatus.CANCELLED
    assert move.reason == "caller hung up, no answer on callback"


@pytest.mark.parametrize("status", sorted(FINAL_STATUSES))
@pytest.mark.parametrize("action", list(CaseAction))
def test_final_states_accept_nothing(status, action):
    with pytest.raises(InvalidTransition) as err:
        transition(status, action, reason="x")
    assert err.value.code == "invalid_transition"
    assert "final" in err.value.detail
    assert allowed_actions(status) == []


def test_skipping_a_step_is_illegal():
    with pytest.raises(InvalidTransition) as err:
        transition(CaseStatus.RAISED, CaseAction.DISPATCH)
    assert err.value.extra["current_status"] == "raised"
    assert set(err.value.extra["allowed_actions"]) == {"triage", "cancel"}


@given(st.lists(st.tuples(st.sampled_from(list(CaseAction)), st.text(max_size=5)), max_size=30))
def test_random_walks_stay_in_the_table(steps):
    status = CaseStatus.RAISED
    for action, reason in steps:
        legal = (status, action) in TRANSITIONS
        try:
            move = transition(status, action, reason=reason)
        except InvalidTransition:
            assert not legal
            continue
        except InvalidInput:
            assert action is CaseAction.CANCEL and not reason.strip()
            continue
        assert legal and TRANSITIONS[(status, action)] is move.to_status
        assert move.from_status is status
        status = move.to_status
    assert status in set(CaseStatus)
