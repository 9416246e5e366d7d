"""Pure ranking of destination hospitals, with the reason for every choice and every skip."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from dispatch.diversion import DiversionPolicy, Eligibility, eligibility, override_explanation
from facilities.capabilities import Capability, satisfies

OPEN = "open"


class Candidate(NamedTuple):
    """A hospital of the region with its road travel time from the incident (inf: unreachable).

    Tuples, not frozen dataclasses: every SOS builds one per hospital of its region."""

    hospital_id: uuid.UUID
    name: str
    capabilities: tuple[str, ...]
    ed_status: str
    beds_available: int | None
    capacity_updated_at: datetime | None
    eta_s: float
    distance_m: float | None = None
    #: Capabilities whose service is not simply available: ``{capability: limited|unavailable}``.
    services: Mapping[str, str] | None = None

    def service_status(self, capability: str) -> str:
        """The status of one capability's service here (available unless stated)."""
        return (self.services or {}).get(capability, "available")


@dataclass(frozen=True)
class RankedHospital:
    """A recommended destination."""

    hospital_id: str
    name: str
    capabilities: list[str]
    ed_status: str
    beds_available: int | None
    capacity_updated_at: str | None
    capacity_stale: bool
    eta_seconds: float
    distance_m: float | None
    service_status: str = "available"
    #: A diverting hospital offered for a critical patient under the region's diversion policy.
    diversion_overridden: bool = False
    explanation: str | None = None


class SkippedHospital(NamedTuple):
    """A hospital that was not recommended, and why."""

    hospital_id: str
    name: str
    reason: str  # no_capability | service_unavailable | diverting | closed | unreachable
    eta_seconds: float | None


@dataclass(frozen=True)
class DestinationChoice:
    """The explained recommendation stored with the case and returned to clients."""

    required_capability: str
    requirement_reason: str
    hospitals: list[RankedHospital]
    skipped: list[SkippedHospital] = field(default_factory=list)
    fallback: str | None = None  # "nearest_general_ed" when no capable hospital is reachable
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (flat rows copied by hand: ``dataclasses.asdict`` deep-copies every
        value and cost ~0.7 ms per SOS with a city's skipped hospitals)."""
        return {
            "required_capability": self.required_capability,
            "requirement_reason": self.requirement_reason,
            "hospitals": [
                {**vars(h), "capabilities": list(h.capabilities)} for h in self.hospitals
            ],
            "skipped": [h._asdict() for h in self.skipped],
            "fallback": self.fallback,
            "message": self.message,
        }


def _capable_open(candidate: Candidate, required: Capability) -> bool:
    """Capable, open, reachable and its service not unavailable: a destination in any case."""
    return (
        candidate.ed_status == OPEN
        and math.isfinite(candidate.eta_s)
        and satisfies(candidate.capabilities, required)
        and candidate.service_status(required.value) != "unavailable"
    )


def _ranked(
    candidate: Candidate,
    *,
    now: datetime,
    stale_after: timedelta,
    required: Capability,
    explanation: str | None = None,
) -> RankedHospital:
    updated = candidate.capacity_updated_at
    return RankedHospital(
        hospital_id=str(candidate.hospital_id),
        name=candidate.name,
        capabilities=list(candidate.capabilities),
        ed_status=candidate.ed_status,
        beds_available=candidate.beds_available,
        capacity_updated_at=updated.isoformat() if updated else None,
        capacity_stale=updated is None or now - updated > stale_after,
        eta_seconds=round(candidate.eta_s, 1),
        distance_m=round(candidate.distance_m, 1) if candidate.distance_m is not None else None,
        service_status=candidate.service_status(required.value),
        diversion_overridden=explanation is not None,
        explanation=explanation,
    )


def recommend_destinations(
    candidates: Sequence[Candidate],
    *,
    required: Capability,
    requirement_reason: str,
    now: datetime,
    k: int = 3,
    stale_after: timedelta = timedelta(minutes=30),
    severity: str | None = None,
    policy: DiversionPolicy | None = None,
) -> DestinationChoice:
    """Top ``k`` capable, open, reachable hospitals by road ETA; never a made-up ETA.

    ``severity`` (the triaged one, else the symptom's presumed one) decides whether a diverting
    hospital stays eligible under the region's diversion ``policy`` (see :mod:`dispatch.diversion`).
    When none qualifies, the nearest reachable open general emergency department is offered
    instead, flagged ``fallback="nearest_general_ed"``, with a message saying so.
    """
    policy = policy or DiversionPolicy()
    best_open = min(
        (c for c in candidates if _capable_open(c, required)),
        key=lambda c: (c.eta_s, c.name),
        default=None,
    )
    best_eta = best_open.eta_s if best_open is not None else math.inf
    eligible: list[tuple[Candidate, str | None]] = []
    skipped: list[SkippedHospital] = []
    for candidate in candidates:
        if not satisfies(candidate.capabilities, required):
            decision = Eligibility(False, "no_capability")
        else:
            decision = eligibility(
                severity=severity, ed_status=candidate.ed_status,
                service_status=candidate.service_status(required.value),
                eta_s=candidate.eta_s, best_open_eta_s=best_eta, policy=policy,
            )
        if decision.eligible:
            explanation = None
            if decision.diversion_overridden:
                explanation = override_explanation(
                    eta_s=candidate.eta_s, best_open_eta_s=best_eta,
                    best_open_name=best_open.name if best_open else None, policy=policy,
                )
            eligible.append((candidate, explanation))
        else:
            eta = candidate.eta_s if math.isfinite(candidate.eta_s) else None
            skipped.append(
                SkippedHospital(
                    str(candidate.hospital_id), candidate.name, decision.skip_reason or "", eta
                )
            )
    eligible.sort(key=lambda pair: (pair[0].eta_s, pair[0].name))
    skipped.sort(key=lambda s: (s.eta_seconds is None, s.eta_seconds or 0.0, s.name))
    if eligible:
        return DestinationChoice(
            required_capability=required.value,
            requirement_reason=requirement_reason,
            hospitals=[
                _ranked(c, now=now, stale_after=stale_after, required=required, explanation=why)
                for c, why in eligible[:k]
            ],
            skipped=skipped,
        )
    general = sorted(
        (
            c
            for c in candidates
            if c.ed_status == OPEN
            and math.isfinite(c.eta_s)
            and satisfies(c.capabilities, Capability.GENERAL_ED)
            and c.service_status(Capability.GENERAL_ED.value) != "unavailable"
        ),
        key=lambda c: (c.eta_s, c.name),
    )
    if general:
        return DestinationChoice(
            required_capability=required.value,
            requirement_reason=requirement_reason,
            hospitals=[
                _ranked(general[0], now=now, stale_after=stale_after, required=required)
            ],
            skipped=skipped,
            fallback="nearest_general_ed",
            message=(
                f"no open hospital with {required.value} is reachable; "
                "nearest general emergency department offered instead"
            ),
        )
    return DestinationChoice(
        required_capability=required.value,
        requirement_reason=requirement_reason,
        hospitals=[],
        skipped=skipped,
        message="no open emergency department is reachable by road",
    )
