"""The clinical diversion policy as a table: every severity x ED status x service status, and the
threshold itself, checked against the rule as the policy documents state it."""

from __future__ import annotations

import itertools
import math
import uuid
from datetime import UTC, datetime

import pytest

from dispatch.diversion import (
    ED_STATUSES,
    SERVICE_STATUSES,
    SEVERITIES,
    DiversionPolicy,
    eligibility,
)
from dispatch.recommend import Candidate, recommend_destinations
from facilities.capabilities import Capability

POLICY = DiversionPolicy(critical_override_s=600)
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def expected(severity: str | None, ed: str, service: str, nearer_by: float) -> tuple[bool, str]:
    """The rule in words: closed and unavailable are never overridden; diversion is honoured
    except for a critical patient when the diverting hospital is >= 600 s nearer."""
    if service == "unavailable":
        return False, "service_unavailable"
    if ed == "closed":
        return False, "closed"
    if ed == "diverting":
        if severity == "critical" and nearer_by >= 600:
            return True, "overridden"
        return False, "diverting"
    return True, "open"


@pytest.mark.parametrize("nearer_by", [0.0, 599.9, 600.0, 1800.0])
@pytest.mark.parametrize(
    ("severity", "ed", "service"),
    list(itertools.product((None, *SEVERITIES), ED_STATUSES, SERVICE_STATUSES)),
)
def test_every_severity_status_and_service(severity, ed, service, nearer_by):
    decision = eligibility(
        severity=severity, ed_status=ed, service_status=service, eta_s=300.0,
        best_open_eta_s=300.0 + nearer_by, policy=POLICY,
    )
    ok, why = expected(severity, ed, service, nearer_by)
    assert decision.eligible is ok
    assert decision.diversion_overridden is (why == "overridden")
    assert decision.skip_reason == (None if ok else why)


def test_no_open_alternative_counts_as_infinitely_farther():
    decision = eligibility(severity="critical", ed_status="diverting", service_status="available",
                           eta_s=900.0, best_open_eta_s=math.inf, policy=POLICY)
    assert decision.eligible and decision.diversion_overridden
    unreachable = eligibility(severity="critical", ed_status="diverting",
                              service_status="available", eta_s=math.inf,
                              best_open_eta_s=math.inf, policy=POLICY)
    assert not unreachable.eligible


def test_the_threshold_is_the_regions():
    strict = DiversionPolicy(critical_override_s=1200)
    args = dict(severity="critical", ed_status="diverting", service_status="available",
                eta_s=100.0, best_open_eta_s=1000.0)
    assert eligibility(**args, policy=POLICY).eligible
    assert not eligibility(**args, policy=strict).eligible
    assert eligibility(**args, policy=DiversionPolicy(critical_override_s=0)).eligible


def _candidate(name, ed, eta, caps=("general_ed", "stemi_pci"), services=None):
    return Candidate(uuid.uuid4(), name, caps, ed, 3, NOW, eta, services=services)


@pytest.mark.parametrize("severity", [None, *SEVERITIES])
def test_ranking_applies_the_policy_with_both_etas(severity):
    near = _candidate("Near (diverting)", "diverting", 120.0)
    far = _candidate("Far (open)", "open", 900.0)
    choice = recommend_destinations(
        [near, far], required=Capability.STEMI_PCI, requirement_reason="test", now=NOW,
        severity=severity, policy=POLICY,
    )
    names = [h.name for h in choice.hospitals]
    if severity == "critical":
        assert names == ["Near (diverting)", "Far (open)"]
        top = choice.hospitals[0]
        assert top.diversion_overridden and "120 s" in top.explanation
        assert "900 s" in top.explanation and "Far (open)" in top.explanation
        assert not choice.hospitals[1].diversion_overridden
    else:
        assert names == ["Far (open)"]
        assert [(s.name, s.reason) for s in choice.skipped] == [("Near (diverting)", "diverting")]


def test_closed_and_unavailable_are_never_overridden_even_when_much_nearer():
    closed = _candidate("Closed", "closed", 60.0)
    no_lab = _candidate("No cath lab today", "diverting", 60.0,
                        services={"stemi_pci": "unavailable"})
    far = _candidate("Far", "open", 3000.0)
    choice = recommend_destinations(
        [closed, no_lab, far], required=Capability.STEMI_PCI, requirement_reason="test",
        now=NOW, severity="critical", policy=POLICY,
    )
    assert [h.name for h in choice.hospitals] == ["Far"]
    assert {s.name: s.reason for s in choice.skipped} == {
        "Closed": "closed", "No cath lab today": "service_unavailable"}


def test_an_unavailable_service_only_affects_that_capability():
    hospital = _candidate("Central", "open", 100.0, caps=("general_ed", "stemi_pci", "burns"),
                          services={"burns": "unavailable", "stemi_pci": "limited"})
    burns = recommend_destinations([hospital], required=Capability.BURNS,
                                   requirement_reason="t", now=NOW)
    assert burns.skipped[0].reason == "service_unavailable"
    pci = recommend_destinations([hospital], required=Capability.STEMI_PCI,
                                 requirement_reason="t", now=NOW)
    assert pci.hospitals[0].name == "Central" and pci.hospitals[0].service_status == "limited"
