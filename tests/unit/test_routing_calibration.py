"""ETA calibration recovers the speeds a simulated fleet really drove, and says when it helps."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from routing.calibration import Fix, Run, calibrate
from routing.engine import TravelTimeEngine
from routing.graph import ROAD_CLASSES, RoadGraph, build_adjacency
from routing.speed_factors import load_factors, next_change
from routing.synthetic import synthetic_grid

PRIMARY, RESIDENTIAL = ROAD_CLASSES.index("primary"), ROAD_CLASSES.index("residential")


def simulate_fleet(
    graph: RoadGraph, true_factor: dict[int, float], n_runs: int, seed: int
) -> list[Run]:
    """Ambulances driving the truly fastest path at the true speeds; a fix every 30 s, 8 m noise."""
    rng = np.random.default_rng(seed)
    factor = np.array([true_factor.get(int(c), 1.0) for c in graph.edge_class])
    true_time = graph.edge_travel_time_s / factor
    matrix, entry = build_adjacency(graph.n_nodes, graph.edge_source, graph.edge_target, true_time)
    runs = []
    while len(runs) < n_runs:
        a, b = (int(x) for x in rng.integers(0, graph.n_nodes, 2))
        dist, pred = dijkstra(matrix, indices=a, return_predecessors=True)
        if not np.isfinite(dist[b]) or dist[b] < 120:
            continue
        nodes = [b]
        while nodes[-1] != a:
            nodes.append(int(pred[nodes[-1]]))
        nodes.reverse()
        clock = np.array([dist[n] for n in nodes])
        fixes = []
        start = float(rng.uniform(0, 1e6))
        for t in np.arange(0.0, clock[-1], 30.0).tolist() + [float(clock[-1])]:
            i = min(int(np.searchsorted(clock, t, side="right")) - 1, len(nodes) - 2)
            share = (t - clock[i]) / max(clock[i + 1] - clock[i], 1e-9)
            lat = graph.node_lat[nodes[i]] + share * (
                graph.node_lat[nodes[i + 1]] - graph.node_lat[nodes[i]]
            )
            lng = graph.node_lon[nodes[i]] + share * (
                graph.node_lon[nodes[i + 1]] - graph.node_lon[nodes[i]]
            )
            noise = rng.normal(0, 8, 2) / 111_195.0
            fixes.append(Fix(float(lat + noise[0]), float(lng + noise[1] * 1.2), start + t))
        runs.append(Run(tuple(fixes), int(rng.integers(0, 168))))
    return runs


def test_calibration_recovers_class_speeds_and_improves_held_back_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import routing.calibration as calibration

    graph = synthetic_grid(25, seed=4, oneway_fraction=0.1)
    truth = {PRIMARY: 1.3, RESIDENTIAL: 0.8}
    runs = simulate_fleet(graph, truth, 60, seed=1)
    result = calibrate(graph, runs)
    assert result.runs_held_back >= 10 and result.unmatched <= 3
    # an hour or so of driving per class: shrunk towards 1.0, on the right side of it
    assert 1.1 < result.class_factors[PRIMARY] < 1.3
    assert 0.8 < result.class_factors[RESIDENTIAL] < 0.97
    assert result.better and result.error_after_s < 0.5 * result.error_before_s
    monkeypatch.setattr(calibration, "PRIOR_MINUTES", 1.0)  # hardly any shrinkage
    loose = calibrate(graph, runs)
    assert loose.class_factors[PRIMARY] == pytest.approx(1.3, rel=0.08)
    assert loose.class_factors[RESIDENTIAL] == pytest.approx(0.8, rel=0.08)
    # thin data per hour of the week: each hour's factor stays near its class's
    assert np.all(np.abs(np.log(result.factors[PRIMARY] / result.class_factors[PRIMARY])) < 0.3)
    assert np.allclose(result.factors[ROAD_CLASSES.index("motorway")], 1.0)  # no data: 1.0


def test_calibration_of_a_fleet_at_the_model_speeds_changes_little() -> None:
    graph = synthetic_grid(25, seed=4, oneway_fraction=0.1)
    result = calibrate(graph, simulate_fleet(graph, {}, 40, seed=2))
    assert result.class_factors[PRIMARY] == pytest.approx(1.0, abs=0.08)
    assert result.class_factors[RESIDENTIAL] == pytest.approx(1.0, abs=0.08)
    assert result.error_after_s < 5 and not result.better  # nothing to gain: not applied


def test_the_engine_drives_the_calibrated_speeds_only_when_they_helped(tmp_path: Path) -> None:
    """A fleet driving primaries 30 % fast and residential streets 20 % slow: the engine fed
    the saved factors predicts the fleet's true ETAs; factors that did not help are ignored."""
    from dispatch.eta_calibration import save_factors  # the file the CLI writes

    graph = synthetic_grid(25, seed=4, oneway_fraction=0.1)
    truth = {PRIMARY: 1.3, RESIDENTIAL: 0.8}
    result = calibrate(graph, simulate_fleet(graph, truth, 60, seed=1))
    factors = load_factors(save_factors(result, tmp_path / "grid.eta_factors.json"))
    assert result.better and factors is not None
    rng = np.random.default_rng(9)
    spots = rng.integers(0, graph.n_nodes, 12)
    hospitals = [
        (i, float(graph.node_lat[n]), float(graph.node_lon[n])) for i, n in enumerate(spots)
    ]
    driven = np.array([truth.get(int(c), 1.0) for c in graph.edge_class])
    true_graph = dataclasses.replace(graph, edge_travel_time_s=graph.edge_travel_time_s / driven)
    plain = TravelTimeEngine(graph, hospitals, auto_refresh=False)
    tuned = TravelTimeEngine(graph, hospitals, auto_refresh=False, snapper=plain.snapper)
    tuned.set_speed_factors(factors)
    actual = TravelTimeEngine(true_graph, hospitals, auto_refresh=False, snapper=plain.snapper)
    for engine in (plain, tuned, actual):
        engine.precompute()
    before, after = [], []
    for n in rng.integers(0, graph.n_nodes, 40):
        point = (float(graph.node_lat[n]) + 1e-4, float(graph.node_lon[n]))
        want = actual.eta_to_hospitals(*point)[1]
        before.append(np.mean(np.abs(plain.eta_to_hospitals(*point)[1] - want) / want))
        after.append(np.mean(np.abs(tuned.eta_to_hospitals(*point)[1] - want) / want))
    assert np.mean(after) < 0.4 * np.mean(before)  # e.g. 8 % off before, 2 % after
    # A calibration that did not reduce the held-back error is never applied.
    idle = calibrate(graph, simulate_fleet(graph, {}, 40, seed=2))
    assert load_factors(save_factors(idle, tmp_path / "idle.eta_factors.json")) is None
    assert load_factors(tmp_path / "missing.json") is None


def test_hourly_factors_reweigh_the_engine_when_the_hour_changes() -> None:
    graph = synthetic_grid(12, seed=2, oneway_fraction=0.0)
    factors = np.ones((len(ROAD_CLASSES), 168))
    factors[:, 10] = 2.0  # Mondays 10:00-11:00 UTC: everything twice as fast
    engine = TravelTimeEngine(graph, [("h", float(graph.node_lat[0]), float(graph.node_lon[0]))])
    monday_9 = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    engine.set_speed_factors(factors, now=monday_9)
    assert engine._next_expiry == datetime(2026, 12, 7, 10, tzinfo=UTC).timestamp()
    slow = engine.current_weights.edge_time.copy()
    engine.expire_closures(now=datetime(2026, 12, 7, 10, 0, 1, tzinfo=UTC))
    assert np.allclose(engine.current_weights.edge_time, slow / 2)
    assert engine._next_expiry == datetime(2026, 12, 7, 11, tzinfo=UTC).timestamp()
    assert next_change(None, monday_9) == math.inf
