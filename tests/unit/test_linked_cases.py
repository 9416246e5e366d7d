"""The pure rule of a linked call: the steps that bring it to where its primary stands."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dispatch.lifecycle import FINAL_STATUSES, OPEN_STATUSES, CaseAction, CaseStatus, transition
from dispatch.linked_cases import PATH, catch_up

S, A = CaseStatus, CaseAction


def test_a_raised_call_walks_every_step_to_a_closed_primary():
    assert catch_up(S.RAISED, S.CLOSED) == [A.TRIAGE, A.DISPATCH, A.ARRIVE, A.CLOSE]
    assert catch_up(S.DISPATCHED, S.ARRIVED) == [A.ARRIVE]


def test_a_cancelled_primary_cancels_an_open_call_and_nothing_moves_a_final_one():
    assert catch_up(S.ARRIVED, S.CANCELLED) == [A.CANCEL]
    assert catch_up(S.CLOSED, S.CANCELLED) == []
    assert catch_up(S.CANCELLED, S.CLOSED) == []


def test_only_a_triage_of_the_primary_re_triages_a_triaged_call():
    assert catch_up(S.TRIAGED, S.TRIAGED, retriage=True) == [A.TRIAGE]
    assert catch_up(S.TRIAGED, S.TRIAGED) == []
    assert catch_up(S.TRIAGED, S.RAISED, retriage=True) == []  # ahead: waits


@given(st.sampled_from(list(OPEN_STATUSES)), st.sampled_from(list(CaseStatus)), st.booleans())
def test_every_step_is_legal_and_ends_where_the_primary_is(follower, primary, retriage):
    status = follower
    for action in catch_up(follower, primary, retriage=retriage):
        status = transition(status, action, reason="with its primary").to_status
    if primary in FINAL_STATUSES or PATH.index(primary) >= PATH.index(follower):
        assert status is primary
    else:
        assert status is follower  # a call ahead of its primary waits for it
