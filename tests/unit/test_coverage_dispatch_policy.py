"""The coverage policy of a dispatch, pure: who may be preferred, when, and what the case shows."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_coverage.dispatch_cost import annotated
from fleet_coverage.policy import PREFERS_SLOWER, DispatchOption, suggest

POLICY = {"max_extra_s": 60.0, "min_saving_pp": 2.0}


def _unit(unit_id: str, eta: float) -> dict:
    return {"unit_id": unit_id, "call_sign": unit_id.upper(), "eta_seconds": eta}


def test_exactly_the_extra_seconds_allowed_is_still_within_the_policy():
    options = [DispatchOption("fast", 300, 5.0), DispatchOption("edge", 360, 1.0),
               DispatchOption("over", 360.5, 0.0)]
    s = suggest(options, "medium", **POLICY)
    assert s.unit_id == "edge" and s.extra_seconds == 60 and s.saving_pp == pytest.approx(4.0)


def test_a_saving_just_under_the_minimum_keeps_the_fastest():
    options = [DispatchOption("fast", 300, 3.0), DispatchOption("slow", 320, 1.01)]
    assert suggest(options, "low", **POLICY).reason == "fastest_keeps_coverage"
    options = [DispatchOption("fast", 300, 3.0), DispatchOption("slow", 320, 1.0)]
    assert suggest(options, "low", **POLICY).reason == PREFERS_SLOWER


def test_unknown_costs_are_never_traded():
    unknown_top = [DispatchOption("fast", 300, None), DispatchOption("slow", 310, 0.0)]
    assert suggest(unknown_top, "low", **POLICY).unit_id == "fast"
    unknown_other = [DispatchOption("fast", 300, 9.0), DispatchOption("slow", 310, None)]
    assert suggest(unknown_other, "low", **POLICY).unit_id == "fast"


def test_unreachable_units_are_skipped_and_ties_go_to_the_faster():
    options = [DispatchOption("gone", math.inf, 0.0), DispatchOption("fast", 300, 9.0),
               DispatchOption("a", 330, 1.0), DispatchOption("b", 320, 1.0)]
    s = suggest(options, "low", **POLICY)
    assert s.unit_id == "b" and s.extra_seconds == 20


@given(
    etas=st.lists(st.floats(0, 3600), min_size=1, max_size=6),
    costs=st.lists(st.one_of(st.none(), st.floats(0, 50)), min_size=6, max_size=6),
    severity=st.sampled_from(["critical", "high", "medium", "low", None]),
)
def test_policy_invariants(etas, costs, severity):
    options = [DispatchOption(f"u{i}", eta, costs[i]) for i, eta in enumerate(etas)]
    s = suggest(options, severity, **POLICY)
    if severity not in ("low", "medium") or s.reason != PREFERS_SLOWER:
        assert s.unit_id == "u0"  # acute, untriaged or no worthwhile trade: the top unit
        return
    pick = next(o for o in options if o.unit_id == s.unit_id)
    assert pick.eta_s <= options[0].eta_s + POLICY["max_extra_s"]
    assert options[0].coverage_lost_pp - pick.coverage_lost_pp >= POLICY["min_saving_pp"]


def test_the_case_shows_each_units_cost_and_marks_only_a_preferred_slower_unit():
    units = [_unit("a", 300), _unit("b", 330), _unit("c", 600)]
    lost = {"a": 10.0, "b": 0.4}  # c stands outside the region's free fleet
    low = annotated(units, lost, "low", minutes=8, **POLICY)
    assert [u["unit_id"] for u in low] == ["a", "b", "c"]  # the ranking is unchanged
    assert [u["coverage_lost_pp"] for u in low] == [10.0, 0.4, None]
    assert "coverage_preferred" not in low[0] and "coverage_preferred" not in low[2]
    assert low[1]["coverage_preferred"] == {
        "reason": PREFERS_SLOWER, "extra_seconds": 30.0, "saving_pp": 9.6}
    critical = annotated(units, lost, "critical", minutes=8, **POLICY)
    assert not any("coverage_preferred" in u for u in critical)
    assert all(u["coverage_minutes"] == 8 for u in critical)
