"""Coverage lost if each recommended unit goes, put next to its ETA in the case's recommendation.

Implements the port :class:`dispatch.case_detail.CoverageCost`. The figure depends only on the
free fleet's positions, so it is remembered per fleet state: every read of every case between
two fleet changes costs one database read of the free fleet and a dictionary look-up. The SOS
itself never waits for it: it is computed when an operator reads the case. Reads within two
watcher periods of each other, with no unit status change or move-up between them, skip even
the fleet read.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.models import EmergencyCase
from dispatch.ports import LivePositions
from fleet_coverage import figures, service
from fleet_coverage.policy import PREFERS_SLOWER, DispatchOption, Suggestion, suggest
from fleet_coverage.settings import CoverageSettings

#: Fleet states remembered (a state is every free unit's position in one region).
MEMO_SIZE = 64


class DispatchCost:
    """Annotates recommended units with ``coverage_lost_pp`` and the coverage policy's pick."""

    def __init__(self, book: service.CoverageBook, *, settings: CoverageSettings) -> None:
        self.book = book
        self.settings = settings
        self._memo: OrderedDict[tuple[Any, ...], dict[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0  # fleet states computed (the rest came from the memo)
        self._recent: dict[tuple[Any, ...], tuple[float, dict[str, float]]] = {}

    @staticmethod
    def recent_s(settings: CoverageSettings) -> float:
        """How long a figure is reused without reading the fleet (two watcher periods)."""
        return 2.0 * settings.watch_seconds

    def _loss(self, state: service.RegionState, units: list[service.FleetUnit],
              minutes: float) -> dict[str, float]:
        """Percentage points lost per free unit, remembered per fleet state and road weights."""
        key = (
            state.network.name, id(state), id(state.network.engine.current_weights), minutes,
            tuple((u.id, round(u.lat, 5), round(u.lng, 5)) for u in units),
        )
        with self._lock:
            found = self._memo.get(key)
            if found is not None:
                self._memo.move_to_end(key)
                return found
        lost = figures.marginal_loss(state, units, minutes)
        with self._lock:
            self._memo[key] = lost
            self.computed += 1
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return lost

    async def annotate(
        self,
        *,
        db_session: AsyncSession,
        live_fleet: LivePositions,
        case: EmergencyCase,
        units: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """``units`` (in ranking order) with the coverage each leaves behind; order unchanged."""
        if not units or case.region is None or case.region not in self.book.destinations.regions:
            return units
        settings = self.settings
        weights = self.book.destinations.regions[case.region].engine.current_weights
        # Between two fleet changes (the watcher counts them) reads reuse the figure: no fleet
        # read at all; a GPS drift of a free unit shows within ``recent_s``.
        recent_key = (case.region, settings.minutes, id(weights), self.book.generation)
        recent = self._recent.get(recent_key)
        # ... unless it does not know a unit recommended now (added since, or back in service).
        if (recent is not None and time.monotonic() - recent[0] < self.recent_s(settings)
                and all(u["unit_id"] in recent[1] for u in units)):
            lost = recent[1]
        else:
            demand = await service.load_demand(db_session=db_session, region=case.region)
            state = await asyncio.to_thread(self.book.state, case.region, demand, settings)
            fleet = await service.free_fleet(db_session=db_session, live_fleet=live_fleet,
                                             network=state.network)
            lost = await asyncio.to_thread(self._loss, state, fleet, settings.minutes)
            self._recent = {recent_key: (time.monotonic(), lost)} | {
                k: v for k, v in self._recent.items()
                if k[0] != case.region and k[3] == self.book.generation}
        return annotated(units, lost, case.severity, minutes=settings.minutes,
                         max_extra_s=settings.policy_max_extra_seconds,
                         min_saving_pp=settings.policy_min_saving_pp)


def annotated(
    units: list[dict[str, Any]],
    lost: dict[str, float],
    severity: str | None,
    *,
    minutes: float,
    max_extra_s: float,
    min_saving_pp: float,
) -> list[dict[str, Any]]:
    """Each unit with ``coverage_lost_pp`` (None: not in the region's free fleet) and, on the
    unit the policy prefers over the fastest, ``coverage_preferred`` with the trade it makes."""
    options = [
        DispatchOption(u["unit_id"], float(u["eta_seconds"]),
                       round(lost[u["unit_id"]], 3) if u["unit_id"] in lost else None)
        for u in units
    ]
    choice: Suggestion = suggest(options, severity, max_extra_s=max_extra_s,
                                 min_saving_pp=min_saving_pp)
    result = []
    for unit, option in zip(units, options, strict=True):
        extra: dict[str, Any] = {"coverage_lost_pp": option.coverage_lost_pp,
                                 "coverage_minutes": minutes}
        if choice.unit_id == option.unit_id and choice.reason == PREFERS_SLOWER:
            extra["coverage_preferred"] = {
                "reason": choice.reason, "extra_seconds": round(choice.extra_seconds, 1),
                "saving_pp": round(choice.saving_pp, 3),
            }
        result.append({**unit, **extra})
    return result
