"""Destination ranking: capability, diversion, reachability, fallback, explanations."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.recommend import Candidate, recommend_destinations
from dispatch.triage_rules import required_capability
from facilities.capabilities import (
    Capability,
    UnknownCapability,
    parse_capability_list,
    satisfies,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def cand(name, caps, eta, status="open", updated=NOW):
    return Candidate(uuid.uuid4(), name, tuple(caps), status, 4, updated, eta)


def test_higher_levels_cover_lower_ones():
    assert satisfies(["trauma_1"], Capability.TRAUMA_3)
    assert satisfies(["stroke_thrombectomy"], "stroke_thrombolysis")
    assert not satisfies(["trauma_3"], Capability.TRAUMA_1)
    assert not satisfies(["stroke_thrombolysis"], Capability.STROKE_THROMBECTOMY)
    assert satisfies([], None)


def test_capability_lists_parse_and_reject_unknowns():
    assert parse_capability_list("general_ed; STEMI_PCI;;trauma") == [
        Capability.GENERAL_ED, Capability.STEMI_PCI, Capability.TRAUMA_3,
    ]
    with pytest.raises(UnknownCapability, match="teleportation"):
        parse_capability_list("general_ed;teleportation")


@pytest.mark.parametrize(
    ("symptom", "severity", "expected"),
    [
        ("stroke_symptoms", None, "stroke_thrombolysis"),
        ("stroke_symptoms", "critical", "stroke_thrombectomy"),
        ("cardiac_arrest", None, "stemi_pci"),
        ("chest_pain", "critical", "stemi_pci"),
        ("chest_pain", "low", "general_ed"),
        ("major_trauma", "critical", "trauma_1"),
        ("major_trauma", "medium", "trauma_3"),
        ("burns", "high", "burns"),
        ("obstetric", "low", "obstetric"),
        ("paediatric", None, "paediatric"),
        ("other", "critical", "general_ed"),
    ],
)
def test_symptom_and_severity_map_to_capability(symptom, severity, expected):
    capability, reason = required_capability(symptom, severity)
    assert capability.value == expected
    assert symptom in reason


def test_ranking_skips_and_explains():
    near_diverting = cand("A diverting", ["general_ed", "stemi_pci"], 60, "diverting")
    no_pci = cand("B no pci", ["general_ed"], 90)
    far_ok = cand("C far", ["general_ed", "stemi_pci"], 400)
    near_ok = cand("D near", ["stemi_pci"], 200, updated=NOW - timedelta(hours=2))
    unreachable = cand("E island", ["stemi_pci", "general_ed"], math.inf)
    closed = cand("F closed", ["stemi_pci"], 30, "closed")
    choice = recommend_destinations(
        [near_diverting, no_pci, far_ok, near_ok, unreachable, closed],
        required=Capability.STEMI_PCI, requirement_reason="why", now=NOW,
    )
    assert [h.name for h in choice.hospitals] == ["D near", "C far"]
    assert choice.hospitals[0].capacity_stale and not choice.hospitals[1].capacity_stale
    reasons = {s.name: s.reason for s in choice.skipped}
    assert reasons == {
        "A diverting": "diverting", "B no pci": "no_capability",
        "E island": "unreachable", "F closed": "closed",
    }
    assert next(s for s in choice.skipped if s.name == "E island").eta_seconds is None
    assert choice.fallback is None


def test_no_capable_hospital_falls_back_to_nearest_general_ed():
    choice = recommend_destinations(
        [
            cand("G", ["general_ed"], 300),
            cand("H", ["general_ed"], 100),
            cand("I", ["obstetric"], 10),
        ],
        required=Capability.BURNS, requirement_reason="burns", now=NOW,
    )
    assert [h.name for h in choice.hospitals] == ["H"]
    assert choice.fallback == "nearest_general_ed" and "burns" in choice.message


def test_nothing_reachable_says_so():
    choice = recommend_destinations(
        [cand("J", ["general_ed"], math.inf)], required=Capability.GENERAL_ED,
        requirement_reason="x", now=NOW,
    )
    assert choice.hospitals == [] and "no open emergency department" in choice.message


caps = st.lists(st.sampled_from([c.value for c in Capability]), max_size=4, unique=True)
candidates = st.lists(
    st.builds(
        cand,
        st.text(min_size=1, max_size=5),
        caps,
        st.one_of(st.floats(0, 10_000), st.just(math.inf)),
        st.sampled_from(["open", "diverting", "closed"]),
    ),
    max_size=12,
)


@given(candidates, st.sampled_from(list(Capability)), st.integers(1, 5))
def test_recommendations_are_always_capable_open_reachable_and_sorted(cands, required, k):
    choice = recommend_destinations(cands, required=required, requirement_reason="r", now=NOW, k=k)
    by_id = {str(c.hospital_id): c for c in cands}
    etas = [h.eta_seconds for h in choice.hospitals]
    assert etas == sorted(etas) and len(etas) <= k
    for ranked in choice.hospitals:
        source = by_id[ranked.hospital_id]
        assert source.ed_status == "open" and math.isfinite(source.eta_s)
        wanted = Capability.GENERAL_ED if choice.fallback else required
        assert satisfies(source.capabilities, wanted)
    # Every hospital is either eligible or skipped with the reason the rules give (checked in
    # the documented order: capability, then ED status, then reachability), never both.
    skipped = {s.hospital_id: s.reason for s in choice.skipped}
    for c in cands:
        if not satisfies(c.capabilities, required):
            expected = "no_capability"
        elif c.ed_status != "open":
            expected = c.ed_status
        elif not math.isfinite(c.eta_s):
            expected = "unreachable"
        else:
            expected = None
        assert skipped.get(str(c.hospital_id)) == expected
    eligible = sorted((c for c in cands if str(c.hospital_id) not in skipped),
                      key=lambda c: (c.eta_s, c.name))
    if eligible:
        assert [h.hospital_id for h in choice.hospitals] == [
            str(c.hospital_id) for c in eligible[:k]
        ]
        assert choice.fallback is None


@given(candidates, st.sampled_from(list(Capability)), st.integers(1, 5))
def test_the_json_form_is_the_dataclass_as_a_dict(cands, required, k):
    from dataclasses import asdict

    choice = recommend_destinations(cands, required=required, requirement_reason="r", now=NOW, k=k)
    expected = asdict(choice)
    expected["skipped"] = [s._asdict() for s in choice.skipped]  # asdict keeps named tuples
    assert choice.as_dict() == expected


def test_a_ranked_hospital_carries_every_figure_rounded_to_a_tenth():
    updated = NOW - timedelta(minutes=30)  # exactly at the staleness limit: not yet stale
    hospital = Candidate(uuid.uuid4(), "K", ("general_ed",), "open", 7, updated, 123.456, 987.654)
    [ranked] = recommend_destinations([hospital], required=Capability.GENERAL_ED,
                                      requirement_reason="why", now=NOW).hospitals
    assert vars(ranked) == {
        "hospital_id": str(hospital.hospital_id), "name": "K", "capabilities": ["general_ed"],
        "ed_status": "open", "beds_available": 7, "capacity_updated_at": updated.isoformat(),
        "capacity_stale": False, "eta_seconds": 123.5, "distance_m": 987.7,
        "service_status": "available", "diversion_overridden": False, "explanation": None,
    }
    unknown = hospital._replace(capacity_updated_at=None, distance_m=None, beds_available=None)
    [ranked] = recommend_destinations([unknown], required=Capability.GENERAL_ED,
                                      requirement_reason="why", now=NOW).hospitals
    assert (ranked.capacity_updated_at, ranked.capacity_stale, ranked.distance_m) == (
        None, True, None
    )
    assert ranked.beds_available is None


def test_by_default_three_hospitals_are_recommended():
    hospitals = [cand(f"H{n}", ["general_ed"], 100.0 * n) for n in range(1, 6)]
    choice = recommend_destinations(hospitals, required=Capability.GENERAL_ED,
                                    requirement_reason="why", now=NOW)
    assert [h.name for h in choice.hospitals] == ["H1", "H2", "H3"]
    assert (choice.required_capability, choice.requirement_reason) == ("general_ed", "why")


def test_an_unknown_ed_status_is_skipped_as_closed():
    choice = recommend_destinations([cand("M", ["general_ed"], 60, "full")],
                                    required=Capability.GENERAL_ED, requirement_reason="x", now=NOW)
    assert [(s.name, s.reason) for s in choice.skipped] == [("M", "closed")]


def test_skipped_hospitals_keep_their_eta_and_are_listed_nearest_first_unreachable_last():
    skipped = [
        cand("Z zero", ["obstetric"], 0.0), cand("A half", ["obstetric"], 0.5),
        cand("B island", ["obstetric"], math.inf), cand("C far", ["obstetric"], 900.0),
        cand("A island", ["obstetric"], math.inf), cand("D far", ["obstetric"], 900.0),
    ]
    choice = recommend_destinations(
        [cand("ok", ["burns"], 50.0), *skipped], required=Capability.BURNS,
        requirement_reason="x", now=NOW,
    )
    assert [(s.name, s.eta_seconds) for s in choice.skipped] == [
        ("Z zero", 0.0), ("A half", 0.5), ("C far", 900.0), ("D far", 900.0),
        ("A island", None), ("B island", None),
    ]


def test_ties_on_eta_are_broken_by_name_and_the_fallback_is_the_nearest_general_ed():
    hospitals = [cand("B", ["general_ed"], 100.0), cand("A", ["general_ed"], 100.0),
                 cand("C", ["general_ed"], 50.0), cand("D", ["general_ed"], 400.0)]
    ranked = recommend_destinations(hospitals, required=Capability.GENERAL_ED,
                                    requirement_reason="x", now=NOW)
    assert [h.name for h in ranked.hospitals] == ["C", "A", "B"]
    for order in (hospitals, hospitals[::-1]):
        fallback = recommend_destinations(order, required=Capability.BURNS,
                                          requirement_reason="burns why", now=NOW)
        assert [h.name for h in fallback.hospitals] == ["C"]
        assert (fallback.required_capability, fallback.requirement_reason) == (
            "burns", "burns why"
        )
        assert fallback.message == (
            "no open hospital with burns is reachable; "
            "nearest general emergency department offered instead"
        )
    tie = recommend_destinations(hospitals[:2], required=Capability.BURNS,
                                 requirement_reason="x", now=NOW)
    assert [h.name for h in tie.hospitals] == ["A"]


def test_nothing_reachable_names_the_requirement_and_says_why():
    choice = recommend_destinations([], required=Capability.TRAUMA_1, requirement_reason="why",
                                    now=NOW)
    assert (choice.required_capability, choice.requirement_reason, choice.fallback) == (
        "trauma_1", "why", None
    )
    assert choice.message == "no open emergency department is reachable by road"
