"""Coverage cost of a dispatch: which recommended unit leaves the region best covered.

Policy (documented in README, "Coverage and move-up"): for critical and high severity, and for a
case not yet triaged, the fastest recommended unit is always the suggestion - time to the patient
wins. For low and medium severity only, a unit at most ``max_extra_s`` slower to the scene than
the top recommendation is suggested instead when sending it loses at least ``min_saving_pp``
percentage points less coverage. A unit whose coverage cost is unknown (``None``: it stands
outside the region's free fleet) is never traded for, nor against. The ranking itself is not
changed; the operator decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

NON_CRITICAL = frozenset({"low", "medium"})
#: The reason given when the policy prefers a slower unit over the fastest.
PREFERS_SLOWER = "slightly_slower_keeps_region_covered"


@dataclass(frozen=True)
class DispatchOption:
    """A recommended unit with its ETA and the coverage the region loses if it goes."""

    unit_id: str
    eta_s: float
    coverage_lost_pp: float | None


@dataclass(frozen=True)
class Suggestion:
    """Which unit the coverage policy suggests, and why."""

    unit_id: str | None
    reason: str
    extra_seconds: float = 0.0
    saving_pp: float = 0.0


def suggest(
    options: Sequence[DispatchOption],
    severity: str | None,
    *,
    max_extra_s: float,
    min_saving_pp: float,
) -> Suggestion:
    """The unit to send under the coverage policy; ``options`` in recommendation order."""
    reachable = [o for o in options if math.isfinite(o.eta_s)]
    if not reachable:
        return Suggestion(None, "no_recommended_unit")
    top = reachable[0]
    if severity not in NON_CRITICAL:
        return Suggestion(top.unit_id, "fastest_for_acute_or_untriaged")
    if top.coverage_lost_pp is None:
        return Suggestion(top.unit_id, "coverage_cost_unknown")
    within = [o for o in reachable
              if o.coverage_lost_pp is not None and o.eta_s <= top.eta_s + max_extra_s]
    best = min(within, key=lambda o: (o.coverage_lost_pp or 0.0, o.eta_s))
    saving = top.coverage_lost_pp - (best.coverage_lost_pp or 0.0)
    if best.unit_id == top.unit_id or saving < min_saving_pp:
        return Suggestion(top.unit_id, "fastest_keeps_coverage")
    return Suggestion(
        best.unit_id, PREFERS_SLOWER,
        extra_seconds=max(0.0, best.eta_s - top.eta_s), saving_pp=saving,
    )
