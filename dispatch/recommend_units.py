"""Pure ranking of ambulances by total time to definitive care, with ALS preferred when acute."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

ACUTE = frozenset({"high", "critical"})


@dataclass(frozen=True)
class UnitCandidate:
    """An available unit with its road ETA to the scene (inf: cannot get there)."""

    unit_id: uuid.UUID
    call_sign: str
    unit_type: str
    eta_s: float
    position_stale: bool
    from_station: bool


@dataclass(frozen=True)
class Destination:
    """A capable open hospital with its road ETA from the scene."""

    hospital_id: str
    name: str
    eta_s: float


@dataclass(frozen=True)
class RecommendedUnit:
    """One (unit, hospital) pair and the time to definitive care it gives."""

    unit_id: str
    call_sign: str
    type: str
    eta_seconds: float
    position_stale: bool
    from_station: bool
    hospital_id: str | None
    hospital_name: str | None
    hospital_eta_seconds: float | None
    on_scene_seconds: float
    total_seconds: float | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def recommend_units(
    units: Sequence[UnitCandidate],
    destinations: Sequence[Destination],
    *,
    severity: str | None,
    on_scene_s: float,
    als_preference_s: float,
    k: int = 5,
) -> list[RecommendedUnit]:
    """Rank units by unit ETA + on-scene allowance + ETA to the fastest capable hospital.

    For high or critical severity a BLS unit is ranked as if ``als_preference_s`` slower, so an
    ALS unit wins unless the BLS one is much closer. Units that cannot reach the scene are left
    out; with no reachable destination the ranking falls back to the unit ETA alone.
    """
    best = min(
        (d for d in destinations if math.isfinite(d.eta_s)), key=lambda d: d.eta_s, default=None
    )
    acute = severity in ACUTE
    ranked: list[tuple[float, RecommendedUnit]] = []
    for unit in units:
        if not math.isfinite(unit.eta_s):
            continue
        hospital_eta = best.eta_s if best else None
        total = unit.eta_s + on_scene_s + (hospital_eta or 0.0) if best else None
        penalty = als_preference_s if acute and unit.unit_type != "ALS" else 0.0
        reasons = [f"{unit.eta_s / 60:.1f} min to scene"]
        if unit.from_station:
            reasons.append("position stale: ETA from its station")
        if penalty:
            reasons.append("BLS for an acute case (ALS preferred)")
        if best:
            reasons.append(f"then {best.eta_s / 60:.1f} min to {best.name}")
        ranked.append(
            (
                (total if total is not None else unit.eta_s) + penalty,
                RecommendedUnit(
                    unit_id=str(unit.unit_id),
                    call_sign=unit.call_sign,
                    type=unit.unit_type,
                    eta_seconds=round(unit.eta_s, 1),
                    position_stale=unit.position_stale,
                    from_station=unit.from_station,
                    hospital_id=best.hospital_id if best else None,
                    hospital_name=best.name if best else None,
                    hospital_eta_seconds=round(best.eta_s, 1) if best else None,
                    on_scene_seconds=on_scene_s,
                    total_seconds=round(total, 1) if total is not None else None,
                    reason="; ".join(reasons),
                ),
            )
        )
    ranked.sort(key=lambda pair: (pair[0], pair[1].call_sign))
    return [unit for _, unit in ranked[:k]]
