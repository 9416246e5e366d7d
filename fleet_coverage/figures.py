"""The coverage figures themselves, computed in worker threads from a region's cached searches."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fleet_coverage.measure import measure
from fleet_coverage.mexclp import FreeUnit, Limits, Plan, plan_moves
from fleet_coverage.reach import node_of
from fleet_coverage.service import FleetUnit, Post, RegionState
from fleet_coverage.settings import CoverageSettings
from routing.graph import haversine_m


def coverage_report(
    state: RegionState, units: list[FleetUnit], minutes: float
) -> dict[str, Any]:
    """The coverage figure now: shares, uncovered cells as GeoJSON, each unit's contribution."""
    started = time.perf_counter()
    threshold = minutes * 60.0
    reach = state.reach(threshold, ())
    times = reach.matrix([(u.lat, u.lng) for u in units])
    result = measure(
        times, state.grid.weight, threshold,
        is_als=np.array([u.unit_type == "ALS" for u in units], dtype=bool),
    )
    grid = state.grid
    rings = state.rings()
    demand = np.round(grid.weight[result.uncovered] * 100, 4).tolist()
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [rings[i]]},
            "properties": {"demand": d},
        }
        for i, d in zip(result.uncovered.tolist(), demand, strict=True)
    ]
    return {
        "region": state.network.name,
        "minutes": minutes,
        "share_any": round(result.share_any, 6),
        "share_als": round(result.share_als, 6),
        "percent_any": round(result.share_any * 100, 2),
        "percent_als": round(result.share_als * 100, 2),
        "cells": grid.n_cells,
        "cell_size_m": grid.cell_size_m,
        "demand_cases": grid.case_count,
        "units": [
            {
                "unit_id": str(u.id), "call_sign": u.call_sign, "type": u.unit_type,
                "lat": u.lat, "lng": u.lng, "position_source": u.source,
                "marginal_pp": round(float(result.marginal[i]) * 100, 3),
            }
            for i, u in enumerate(units)
        ],
        "uncovered": {"type": "FeatureCollection", "features": features},
        "computed_ms": round((time.perf_counter() - started) * 1000, 2),
    }


def coverage_summary(state: RegionState, units: list[FleetUnit], minutes: float
                     ) -> dict[str, Any]:
    """The figures only (no cells): what the live channel pushes."""
    report = coverage_report(state, units, minutes)
    report["uncovered_cells"] = len(report.pop("uncovered")["features"])
    report["units"] = [{k: u[k] for k in ("unit_id", "call_sign", "marginal_pp")}
                       for u in report["units"]]
    return report


def marginal_loss(state: RegionState, units: list[FleetUnit], minutes: float
                  ) -> dict[str, float]:
    """Percentage points of coverage lost if each free unit leaves (any-unit coverage)."""
    threshold = minutes * 60.0
    times = state.reach(threshold, ()).matrix([(u.lat, u.lng) for u in units])
    result = measure(times, state.grid.weight, threshold)
    return {str(u.id): float(result.marginal[i]) * 100 for i, u in enumerate(units)}


def propose_moves(
    state: RegionState,
    units: list[FleetUnit],
    posts: list[Post],
    settings: CoverageSettings,
    minutes: float,
) -> dict[str, Any]:
    """Move-ups that maximise expected coverage (MEXCLP) under the agency's limits."""
    started = time.perf_counter()
    threshold = minutes * 60.0
    engine = state.network.engine
    post_snaps = [engine.snapper.snap(p.lat, p.lng) for p in posts]
    post_nodes = tuple(node_of(engine, s) for s in post_snaps)
    limit = max(threshold, settings.max_drive_minutes * 60.0)
    reach = state.reach(limit, post_nodes)
    n_cells = state.grid.n_cells
    post_times = np.vstack([reach.from_snap(s) for s in post_snaps]) if posts else np.zeros(
        (0, n_cells + 0), dtype=np.float32)
    rows = [post_times[:, :n_cells] <= threshold] if posts else []
    free: list[FreeUnit] = []
    extra_rows: list[np.ndarray] = []
    for u in units:
        _, times = reach.from_point(u.lat, u.lng)
        stands = u.heading_to or (u.lat, u.lng)  # on its way to a post: counted there
        at_post = next(
            (i for i, p in enumerate(posts)
             if haversine_m(stands[0], stands[1], p.lat, p.lng) <= settings.at_post_m),
            None,
        )
        if at_post is None:
            site = len(posts) + len(extra_rows)
            extra_rows.append(times[:n_cells] <= threshold)
        else:
            site = at_post
        free.append(FreeUnit(str(u.id), site, times[n_cells:].astype(np.float64)))
    all_rows = rows + ([np.vstack(extra_rows)] if extra_rows else [])
    matrix = np.vstack(all_rows) if all_rows else np.zeros((0, n_cells), dtype=bool)
    limits = Limits(
        max_moves=settings.max_moves,
        max_drive_s=settings.max_drive_minutes * 60.0,
        busy_fraction=settings.busy_fraction,
        min_gain=settings.min_gain_pp / 100.0,
    )
    plan: Plan = plan_moves(
        matrix, state.grid.weight, free, len(posts),
        stations=[i for i, p in enumerate(posts) if p.kind == "station"], limits=limits,
    )
    by_id = {str(u.id): u for u in units}
    return {
        "region": state.network.name,
        "minutes": minutes,
        "busy_fraction": settings.busy_fraction,
        "limits": {"max_moves": settings.max_moves,
                   "max_drive_minutes": settings.max_drive_minutes},
        "expected_before_pp": round(plan.expected_before * 100, 3),
        "expected_after_pp": round(plan.expected_after * 100, 3),
        "solver_status": plan.status,
        "proposals": [
            {
                "unit_id": m.unit, "call_sign": by_id[m.unit].call_sign,
                "post_id": str(posts[m.to_post].id), "post_name": posts[m.to_post].name,
                "post": {"lat": posts[m.to_post].lat, "lng": posts[m.to_post].lng},
                "drive_seconds": round(m.drive_s, 1),
            }
            for m in plan.moves
        ],
        "posts": [{"id": str(p.id), "name": p.name, "kind": p.kind, "lat": p.lat, "lng": p.lng}
                  for p in posts],
        "computed_ms": round((time.perf_counter() - started) * 1000, 2),
    }
