"""Ambulance ranking (README "recommended_units"): unit ETA + on-scene allowance + hospital ETA.

Expected figures are worked out by hand from the README's rule, not from the code.
"""

from __future__ import annotations

import math
import uuid

import pytest

from dispatch.recommend_units import Destination, UnitCandidate, recommend_units

ON_SCENE = 900.0  # README: 15-minute on-scene allowance
ALS_PREFERENCE = 240.0  # README: a BLS unit ranks as if 240 s slower when high/critical


def unit(call_sign, eta, unit_type="ALS", *, stale=False, from_station=False):
    return UnitCandidate(uuid.uuid4(), call_sign, unit_type, eta, stale, from_station)


def rank(units, destinations=(), *, severity="medium", k=5):
    return recommend_units(
        units, destinations, severity=severity, on_scene_s=ON_SCENE,
        als_preference_s=ALS_PREFERENCE, k=k,
    )


def test_total_time_is_unit_eta_plus_on_scene_plus_fastest_reachable_hospital():
    near = unit("A1", 120.0)
    hospitals = [Destination("h-far", "Far", 600.0), Destination("h-near", "Near", 300.0),
                 Destination("h-island", "Island", math.inf)]
    [only] = rank([near], hospitals)
    assert only.as_dict() == {
        "unit_id": str(near.unit_id), "call_sign": "A1", "type": "ALS", "eta_seconds": 120.0,
        "position_stale": False, "from_station": False, "hospital_id": "h-near",
        "hospital_name": "Near", "hospital_eta_seconds": 300.0, "on_scene_seconds": 900.0,
        "total_seconds": 1320.0, "reason": "2.0 min to scene; then 5.0 min to Near",
    }


def test_figures_are_rounded_to_a_tenth_of_a_second():
    [only] = rank([unit("A1", 100.46)], [Destination("h", "H", 200.06)])
    assert (only.eta_seconds, only.hospital_eta_seconds, only.total_seconds) == (
        100.5, 200.1, 1200.5
    )


def test_a_hospital_next_door_adds_nothing():
    [only] = rank([unit("A1", 100.0)], [Destination("h", "Next door", 0.0)])
    assert (only.hospital_id, only.total_seconds) == ("h", 1000.0)


def test_units_rank_by_total_time_then_call_sign_and_unreachable_units_are_left_out():
    units = [unit("Y0", math.inf), unit("B2", 300.0), unit("A9", 300.0), unit("C1", 60.0),
             unit("Z0", math.inf)]
    ranked = rank(units, [Destination("h", "H", 100.0)])
    assert [u.call_sign for u in ranked] == ["C1", "A9", "B2"]


def test_only_the_k_best_are_returned():
    units = [unit(f"U{n}", 60.0 * n) for n in range(1, 8)]
    default = recommend_units(units, [Destination("h", "H", 1.0)], severity=None,
                              on_scene_s=ON_SCENE, als_preference_s=ALS_PREFERENCE)
    assert [u.call_sign for u in default] == ["U1", "U2", "U3", "U4", "U5"]
    assert [u.call_sign for u in rank(units, k=2)] == ["U1", "U2"]


@pytest.mark.parametrize(
    ("severity", "bls_gap", "winner"),
    [
        ("critical", 239.0, "ALS"),  # within the 240-s preference: ALS still first
        ("high", 239.0, "ALS"),
        ("critical", 241.0, "BLS"),  # the BLS unit is more than 240 s closer
        ("medium", 1.0, "BLS"),  # no preference below high
        ("low", 1.0, "BLS"),
        (None, 1.0, "BLS"),
    ],
)
def test_als_is_preferred_for_acute_cases_only(severity, bls_gap, winner):
    als = unit("ALS-1", 600.0, "ALS")
    bls = unit("BLS-1", 600.0 - bls_gap, "BLS")
    ranked = rank([bls, als], [Destination("h", "H", 300.0)], severity=severity)
    assert ranked[0].type == winner
    penalised = severity in ("high", "critical")
    bls_minutes = f"{(600.0 - bls_gap) / 60:.1f}"
    assert next(u for u in ranked if u.type == "BLS").reason == (
        f"{bls_minutes} min to scene; BLS for an acute case (ALS preferred); then 5.0 min to H"
        if penalised else f"{bls_minutes} min to scene; then 5.0 min to H"
    )
    # The penalty only ranks; the reported times are the real ones.
    assert next(u for u in ranked if u.type == "BLS").total_seconds == round(
        600.0 - bls_gap + ON_SCENE + 300.0, 1
    )


def test_without_a_reachable_hospital_units_rank_by_their_own_eta():
    units = [unit("FAR", 500.0), unit("NEAR", 200.0, "BLS")]
    ranked = rank(units, [Destination("h", "H", math.inf)], severity="critical")
    # BLS: 200 + 240 = 440 < 500: still first, ranked on its ETA alone.
    assert [u.call_sign for u in ranked] == ["NEAR", "FAR"]
    assert all(u.hospital_id is None and u.hospital_name is None for u in ranked)
    assert all(u.hospital_eta_seconds is None and u.total_seconds is None for u in ranked)
    assert ranked[1].reason == "8.3 min to scene"


def test_a_stale_unit_says_its_eta_is_from_its_station():
    [only] = rank([unit("S1", 90.0, stale=True, from_station=True)], [Destination("h", "H", 60.0)])
    assert only.position_stale and only.from_station
    assert only.reason == (
        "1.5 min to scene; position stale: ETA from its station; then 1.0 min to H"
    )


def test_no_units_no_recommendations():
    assert rank([], [Destination("h", "H", 60.0)]) == []
