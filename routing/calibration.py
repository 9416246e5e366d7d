"""Speed factors per road class and hour of the week, learnt from the fleet's own GPS trails.

A completed run (dispatch to on scene) is a sequence of GPS fixes. Each run is map-matched to
the road graph with a hidden Markov model (Newson & Krumm, 2009: candidates are the junctions
near each fix, emission by distance, transition by how far the road route differs from the
straight line), then every stretch between two fixes tells how long its roads really took
against the model's time, shared among road classes by model time. A factor per class and per
hour of the week is their ratio, shrunk towards the class's factor (and that towards 1.0)
where the data is thin. The fit is judged on a held-back 20 % of runs: the error of the
predicted run time before and after, and the factors are worth applying only when it drops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from routing.graph import EARTH_RADIUS_M, ROAD_CLASSES, FloatArray, RoadGraph, build_adjacency

HOURS_OF_WEEK = 168
#: GPS error (m) of the emission model and the scale (m) of the transition model.
SIGMA_M = 20.0
BETA_M = 60.0
#: Junctions within this distance of a fix are its candidates (at most MAX_CANDIDATES).
CANDIDATE_RADIUS_M = 80.0
MAX_CANDIDATES = 6
#: Prior strength of the shrinkage, in minutes of observed driving.
PRIOR_MINUTES = 30.0
HELD_BACK = 0.2
#: Rounds of re-matching the driven routes under the current factors (EM-style).
ROUNDS = 3


class Fix(NamedTuple):
    """One GPS fix: position and time (seconds, any epoch)."""

    lat: float
    lng: float
    t: float


@dataclass(frozen=True)
class Run:
    """A completed run: its fixes, in time order, and the hour of the week it started (0-167)."""

    fixes: tuple[Fix, ...]
    hour_of_week: int


@dataclass
class Calibration:
    """Fitted factors (speed multipliers: above 1 faster than the model) and their evaluation."""

    factors: NDArray[np.float64]
    """``(len(ROAD_CLASSES), 168)``."""
    class_factors: NDArray[np.float64]
    minutes: NDArray[np.float64]
    """Minutes of matched driving behind each (class, hour)."""
    error_before_s: float
    """Mean absolute error of held-back run times with the model's speeds."""
    error_after_s: float
    runs_fitted: int
    runs_held_back: int
    unmatched: int
    notes: list[str] = field(default_factory=list)

    @property
    def better(self) -> bool:
        """Whether applying the factors reduces the held-back error."""
        return self.error_after_s < self.error_before_s


class _Index:
    """Junction lookup in a local metric projection, built once per graph."""

    def __init__(self, graph: RoadGraph) -> None:
        self.lat0 = float(np.mean(graph.node_lat)) if graph.n_nodes else 0.0
        self.kx = math.radians(1) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))
        self.ky = math.radians(1) * EARTH_RADIUS_M
        self.tree = cKDTree(np.column_stack([graph.node_lon * self.kx, graph.node_lat * self.ky]))
        metres = np.maximum(graph.edge_length_m, 1e-3)
        self.length = sp.csr_matrix(
            (metres, (graph.edge_source, graph.edge_target)), shape=(graph.n_nodes,) * 2
        )
        self.length.sum_duplicates()

    def xy(self, lat: float, lng: float) -> tuple[float, float]:
        return lng * self.kx, lat * self.ky


def match_run(graph: RoadGraph, fixes: Sequence[Fix], index: _Index | None = None) -> list[int]:
    """
    Map-match a run to graph junctions with a hidden Markov model (Viterbi).

    Returns
    -------
    list of int
        The matched junction of each fix; empty when a fix has no candidate or no road
        route joins consecutive candidates.
    """
    index = index or _Index(graph)
    candidates: list[NDArray[np.int64]] = []
    emissions: list[FloatArray] = []
    for fix in fixes:
        x, y = index.xy(fix.lat, fix.lng)
        dist, idx = index.tree.query(
            [x, y], k=MAX_CANDIDATES, distance_upper_bound=CANDIDATE_RADIUS_M
        )
        ok = np.isfinite(dist)
        if not ok.any():
            return []
        candidates.append(np.asarray(idx[ok], dtype=np.int64))
        emissions.append(-0.5 * (dist[ok] / SIGMA_M) ** 2)
    score = emissions[0].copy()
    back: list[NDArray[np.int64]] = []
    for i in range(1, len(fixes)):
        prev, here = candidates[i - 1], candidates[i]
        a, b = fixes[i - 1], fixes[i]
        straight = math.dist(index.xy(a.lat, a.lng), index.xy(b.lat, b.lng))
        route = dijkstra(
            index.length, directed=True, indices=prev, limit=3 * straight + 4 * CANDIDATE_RADIUS_M
        )[:, here]
        transition = -np.abs(route - straight) / BETA_M  # -inf where unreachable
        total = score[:, None] + transition
        best = np.argmax(total, axis=0)
        score = total[best, np.arange(len(here))] + emissions[i]
        if not np.isfinite(score).any():
            return []
        back.append(best)
    state = int(np.argmax(score))
    path = [int(candidates[-1][state])]
    for i in range(len(fixes) - 1, 0, -1):
        state = int(back[i - 1][state])
        path.append(int(candidates[i - 1][state]))
    path.reverse()
    return path


def _stretch_edges(
    graph: RoadGraph, edge_cost: FloatArray, matrix: sp.csr_matrix, a: int, b: int, limit: float
) -> NDArray[np.int64] | None:
    """Edges of the path minimising ``edge_cost`` from junction ``a`` to ``b`` (None: none)."""
    if a == b:
        return np.empty(0, dtype=np.int64)
    dist, pred = dijkstra(matrix, directed=True, indices=a, limit=limit, return_predecessors=True)
    if not math.isfinite(dist[b]):
        return None
    nodes = [b]
    while nodes[-1] != a:
        nodes.append(int(pred[nodes[-1]]))
    nodes.reverse()
    edges = []
    for s, t in zip(nodes, nodes[1:], strict=False):
        options = np.flatnonzero((graph.edge_source == s) & (graph.edge_target == t))
        edges.append(int(options[np.argmin(edge_cost[options])]))
    return np.asarray(edges, dtype=np.int64)


def _stretches(
    graph: RoadGraph, runs: Sequence[Run], index: _Index, class_factor: FloatArray
) -> tuple[FloatArray, FloatArray, NDArray[np.int64], int]:
    """Per matched stretch between two fixes: model seconds per class, observed seconds, hour.

    Between two fixes the vehicle is taken to have driven the fastest route under the current
    estimate of the class factors (``class_factor``); the model seconds are the uncalibrated
    ones.
    """
    n_classes = len(ROAD_CLASSES)
    rows: list[FloatArray] = []
    seconds: list[float] = []
    hours: list[int] = []
    unmatched = 0
    time = graph.edge_travel_time_s
    believed = time / class_factor[graph.edge_class]
    matrix, _ = build_adjacency(graph.n_nodes, graph.edge_source, graph.edge_target, believed)
    for run in runs:
        path = match_run(graph, run.fixes, index)
        if not path:
            unmatched += 1
            continue
        for i in range(len(path) - 1):
            dt = run.fixes[i + 1].t - run.fixes[i].t
            edges = _stretch_edges(graph, believed, matrix, path[i], path[i + 1], math.inf)
            if edges is None or len(edges) == 0 or dt <= 0:
                continue
            per_class = np.bincount(
                graph.edge_class[edges], weights=time[edges], minlength=n_classes
            )
            rows.append(per_class.astype(np.float64))
            seconds.append(dt)
            hours.append(run.hour_of_week % HOURS_OF_WEEK)
    if not rows:
        return np.zeros((0, n_classes)), np.zeros(0), np.zeros(0, dtype=np.int64), unmatched
    return np.vstack(rows), np.asarray(seconds), np.asarray(hours, dtype=np.int64), unmatched


def _fit(model: FloatArray, observed: FloatArray, prior: FloatArray) -> FloatArray:
    """
    Speed factors ``f`` with ``observed ~ model @ (1 / f)``, shrunk towards ``prior``.

    Least squares on the time multipliers ``x = 1 / f``, with one pseudo-stretch per class of
    :data:`PRIOR_MINUTES` driven exactly at ``1 / prior``: a class with little data keeps
    its prior, one with hours of data its own figure.
    """
    n = model.shape[1]
    # A stretch of s seconds weighs s² in the squares: PRIOR_MINUTES of typical stretches
    # weigh PRIOR_MINUTES * 60 * s, one pseudo-row of that weight per class.
    typical = float(np.median(model.sum(axis=1))) if len(model) else 30.0
    weight = math.sqrt(PRIOR_MINUTES * 60.0 * typical)
    a = np.vstack([model, np.eye(n) * weight])
    b = np.concatenate([observed, weight / prior])
    x, *_ = np.linalg.lstsq(a, b, rcond=None)
    return np.asarray(1.0 / np.clip(x, 0.2, 5.0), dtype=np.float64)


def predict_run_s(
    graph: RoadGraph, run: Run, index: _Index, factors: FloatArray | None = None
) -> float | None:
    """Predicted time from the run's first matched junction to its last (None: unmatched)."""
    path = match_run(graph, run.fixes, index)
    if not path:
        return None
    time = graph.edge_travel_time_s
    if factors is not None:
        time = time / factors[graph.edge_class, run.hour_of_week % HOURS_OF_WEEK]
    matrix = sp.csr_matrix(
        (time, (graph.edge_source, graph.edge_target)), shape=(graph.n_nodes,) * 2
    )
    dist = dijkstra(matrix, directed=True, indices=path[0])
    value = float(dist[path[-1]])
    return value if math.isfinite(value) else None


def calibrate(graph: RoadGraph, runs: Sequence[Run], *, seed: int = 0) -> Calibration:
    """
    Fit speed factors on 80 % of the runs and measure them on the other 20 %.

    Parameters
    ----------
    graph : RoadGraph
        With ``edge_class``.
    runs : sequence of Run
    seed : int
        Which runs are held back.

    Returns
    -------
    Calibration
    """
    index = _Index(graph)
    order = np.random.default_rng(seed).permutation(len(runs))
    n_back = max(1, int(round(HELD_BACK * len(runs)))) if len(runs) >= 5 else 0
    held = [runs[i] for i in order[:n_back]]
    fitted = [runs[i] for i in order[n_back:]]
    n_classes = len(ROAD_CLASSES)
    class_factors = np.ones(n_classes)
    for _ in range(ROUNDS):  # which route was driven depends on the speeds being estimated
        model, observed, hours, unmatched = _stretches(graph, fitted, index, class_factors)
        class_factors = _fit(model, observed, np.ones(n_classes))
    factors = np.repeat(class_factors[:, None], HOURS_OF_WEEK, axis=1)
    minutes = np.zeros((n_classes, HOURS_OF_WEEK))
    for hour in np.unique(hours).tolist():
        mine = hours == hour
        factors[:, hour] = _fit(model[mine], observed[mine], class_factors)
        minutes[:, hour] = model[mine].sum(axis=0) / 60.0
    before, after = [], []
    for run in held:
        actual = run.fixes[-1].t - run.fixes[0].t
        plain = predict_run_s(graph, run, index)
        tuned = predict_run_s(graph, run, index, factors)
        if plain is None or tuned is None:
            unmatched += 1
            continue
        before.append(abs(plain - actual))
        after.append(abs(tuned - actual))
    notes = [] if held else ["fewer than 5 runs: nothing held back, nothing to judge by"]
    return Calibration(
        factors=factors,
        class_factors=class_factors,
        minutes=minutes,
        error_before_s=float(np.mean(before)) if before else math.nan,
        error_after_s=float(np.mean(after)) if after else math.nan,
        runs_fitted=len(fitted),
        runs_held_back=len(before),
        unmatched=unmatched,
        notes=notes,
    )
