"""Multi-unit response plans keyed by symptom x severity, and the pure choice of units for one.

Some incidents need more than one ambulance at once. The plans follow common EMS practice:

* cardiac arrest: the nearest ALS unit plus the nearest unit of any type (hands for continuous
  CPR arrive first, advanced care with the ALS crew);
* major trauma, critical: an ALS unit and a BLS unit (one treats, one packages and transports);
* everything else: one unit, the top of the ranking (ALS preferred when acute).

Before triage the symptom's presumed severity is used, as for the destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dispatch.taxonomy import Severity, SymptomCategory
from dispatch.triage_rules import PRESUMED_SEVERITY

ALS, BLS, ANY = "ALS", "BLS", "any"


@dataclass(frozen=True)
class ResponsePlan:
    """The units an incident needs, in order: the first slot is the lead unit."""

    name: str
    slots: tuple[str, ...]
    reason: str


SINGLE = ResponsePlan("single_unit", (ANY,), "one unit: the best ranked")
CARDIAC_ARREST = ResponsePlan(
    "cardiac_arrest", (ALS, ANY),
    "cardiac arrest: the nearest ALS unit and the nearest unit of any type",
)
MAJOR_TRAUMA_CRITICAL = ResponsePlan(
    "major_trauma_critical", (ALS, BLS), "critical major trauma: an ALS and a BLS unit"
)

#: (symptom, severity) -> plan; severity None means "any severity".
PLANS: dict[tuple[SymptomCategory, Severity | None], ResponsePlan] = {
    (SymptomCategory.CARDIAC_ARREST, None): CARDIAC_ARREST,
    (SymptomCategory.MAJOR_TRAUMA, Severity.CRITICAL): MAJOR_TRAUMA_CRITICAL,
}


def plan_for(symptom: SymptomCategory | str, severity: Severity | str | None) -> ResponsePlan:
    """The plan for a case (severity: the triaged one, else the symptom's presumed one)."""
    symptom = SymptomCategory(symptom)
    level = PRESUMED_SEVERITY[symptom] if severity is None else Severity(severity)
    return PLANS.get((symptom, level)) or PLANS.get((symptom, None)) or SINGLE


def choose_units(
    plan: ResponsePlan, ranked: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Fill each slot from units already ranked for the case (``recommend_units`` rows).

    An ALS or BLS slot takes the best ranked unit of that type; an ``any`` slot after the lead
    takes the unit nearest the scene (its job is to get there first). A BLS slot with no BLS
    free takes an ALS unit (more care, never less). A slot nothing can fill is reported missing.
    """
    used: set[str] = set()
    chosen: list[dict[str, Any]] = []
    missing: list[str] = []
    for position, slot in enumerate(plan.slots):
        pool = [u for u in ranked if u["unit_id"] not in used]
        if slot == ANY and position > 0:
            pool = sorted(pool, key=lambda u: (u["eta_seconds"], u["call_sign"]))
        fits = [u for u in pool if slot == ANY or u["type"] == slot]
        note = None
        if not fits and slot == BLS:
            fits, note = [u for u in pool if u["type"] == ALS], "no BLS unit free: ALS instead"
        if not fits:
            missing.append(slot)
            continue
        unit = fits[0]
        used.add(unit["unit_id"])
        chosen.append({"slot": slot, "unit_id": unit["unit_id"], "call_sign": unit["call_sign"],
                       "type": unit["type"], "eta_seconds": unit["eta_seconds"], "note": note})
    return {
        "plan": plan.name,
        "reason": plan.reason,
        "slots": list(plan.slots),
        "units": chosen,
        "unit_ids": [u["unit_id"] for u in chosen],
        "complete": not missing,
        "missing": missing,
    }
