"""ETAs on the turn-expanded graph: a state x hospital table, still two row reads per query."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from routing.graph import FloatArray, Int64Array, RoadGraph
from routing.search import direct_on_segment
from routing.snap import (
    DEFAULT_MAX_SNAP_DISTANCE_M,
    EdgeSnapper,
    RoadSegments,
    Snap,
    road_segments,
)
from routing.table import (
    BATCH,
    COMPACT_THRESHOLD_CELLS,
    DEFAULT_MAX_ETA_S,
    PARALLEL_THRESHOLD_CELLS,
    fill,
    hospitals_by_segment,
    tick_seconds,
)
from routing.turns import TurnGraph, build_turn_graph
from routing.weights import Hospital, HospitalSet, Weights, make_weights, snap_hospitals


def turn_exits(segments: RoadSegments, w: Weights, snap: Snap) -> list[tuple[int, float]]:
    """(state, seconds) of the ways off the incident's segment: to the end of either edge."""
    seg, f = snap.segment, snap.segment_fraction
    exits = []
    fe, be = int(segments.forward_edge[seg]), int(segments.backward_edge[seg])
    if fe >= 0 and math.isfinite(w.edge_time[fe]):
        exits.append((fe, float(w.edge_time[fe]) * (1.0 - f)))
    if be >= 0 and math.isfinite(w.edge_time[be]):
        exits.append((be, float(w.edge_time[be]) * f))
    return exits


def turn_hospital_arcs(
    turns: TurnGraph, w: Weights, segments: RoadSegments, hospitals: HospitalSet
) -> tuple[Int64Array, Int64Array, FloatArray]:
    """
    Virtual arcs into each hospital: (state, hospital, seconds).

    A hospital at fraction ``g`` of segment ``(c, d)`` is reached while driving its forward
    edge, after any arc into that edge (turn, delay, then ``g`` of the edge), or its backward
    edge for ``1 - g`` of it.
    """
    into_edge = turns.state_edge[turns.arc_to]
    order = np.argsort(into_edge, kind="stable")
    sorted_edge = into_edge[order]
    states: list[Int64Array] = []
    targets: list[Int64Array] = []
    costs: list[FloatArray] = []
    for h, (s, g) in enumerate(
        zip(hospitals.segment.tolist(), hospitals.fraction.tolist(), strict=True)
    ):
        for edge, share in ((segments.forward_edge[s], g), (segments.backward_edge[s], 1 - g)):
            if edge < 0 or not math.isfinite(w.edge_time[edge]):
                continue
            lo, hi = np.searchsorted(sorted_edge, [edge, edge + 1])
            arcs = order[lo:hi]
            states.append(turns.arc_from[arcs])
            targets.append(np.full(len(arcs), h, dtype=np.int64))
            costs.append(turns.arc_turn_s[arcs] + share * w.edge_time[edge])
    if not states:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return np.concatenate(states), np.concatenate(targets), np.concatenate(costs)


def build_turn_table(
    turns: TurnGraph,
    w: Weights,
    segments: RoadSegments,
    hospitals: HospitalSet,
    *,
    max_eta_s: float,
    workers: int,
    compact: bool,
) -> NDArray[Any]:
    """The state x hospital table (float32 seconds or uint16 ticks) under weights ``w``."""
    from routing.table_workers import build_parallel

    n, n_h = turns.n_states, len(hospitals.keys)
    dtype = np.dtype(np.uint16 if compact else np.float32)
    if n_h == 0:
        return np.empty((n, 0), dtype=dtype)
    state, hospital, cost = turn_hospital_arcs(turns, w, segments, hospitals)
    a = turns.adjacency(w.edge_time).tocoo()
    augmented = sp.csr_matrix(
        (
            np.concatenate([a.data, np.maximum(cost, 1e-3)]),
            (np.concatenate([a.row, state]), np.concatenate([a.col, n + hospital])),
        ),
        shape=(n + n_h, n + n_h),
    )
    augmented.sum_duplicates()
    reverse = augmented.transpose().tocsr()
    del a, augmented
    batches = [np.arange(i, min(i + BATCH, n_h)) for i in range(0, n_h, BATCH)]
    if workers > 1 and n * n_h > PARALLEL_THRESHOLD_CELLS and len(batches) > 1:
        return build_parallel(reverse, n, n_h, batches, max_eta_s, workers, dtype)
    table = np.empty((n, n_h), dtype=dtype)
    for batch in batches:
        fill(table, reverse, n, batch, max_eta_s)
    return table


def turn_search_etas(
    turns: TurnGraph,
    w: Weights,
    segments: RoadSegments,
    hospitals: HospitalSet,
    snap: Snap,
    limit: float,
    adjacency: sp.csr_matrix | None = None,
) -> FloatArray:
    """ETAs from one bounded forward search on the expanded graph (no table)."""
    exits = turn_exits(segments, w, snap)
    eta = np.full(len(hospitals.keys), np.inf)
    if exits:
        if adjacency is None:
            adjacency = turns.adjacency(w.edge_time)
        dist = np.atleast_2d(
            dijkstra(adjacency, directed=True, indices=[s for s, _ in exits], limit=limit)
        )
        state_time = np.min(dist + np.array([o for _, o in exits])[:, None], axis=0)
        state, hospital, cost = turn_hospital_arcs(turns, w, segments, hospitals)
        np.minimum.at(eta, hospital, state_time[state] + cost)
    seg = snap.segment
    same = [
        (int(h), float(hospitals.fraction[h])) for h in np.flatnonzero(hospitals.segment == seg)
    ]
    if same:
        direct_on_segment(
            eta, same, snap.segment_fraction, float(w.seg_fwd[seg]), float(w.seg_bwd[seg])
        )
    eta[eta > limit] = np.inf
    return eta


class TurnTravelTimes:
    """
    Travel time from an incident to every hospital on the edge-based graph.

    Same conventions as :class:`routing.engine.TravelTimeEngine` (snapping to a road segment,
    partial edges, a hospital as a virtual node, a 1 h horizon, 16-bit ticks for large tables),
    but the table's rows are the states of a :class:`routing.turns.TurnGraph`: row ``e`` holds
    the time from the end of edge ``e`` (having arrived by it, so its turns and restrictions
    apply) to each hospital. An incident leaves its segment by its forward or backward edge,
    so a query still reads two rows. The price: about 2 states per road node (3.6 on a grid),
    so a table that large in memory and in build time. Closures are not applied here yet.

    Parameters
    ----------
    graph : RoadGraph
    hospitals : sequence of (key, lat, lng)
    turns : TurnGraph, optional
        Default: :func:`routing.turns.build_turn_graph` of ``graph``.
    max_eta_s : float
    compact : bool, optional
        16-bit ticks (default: for tables over ``COMPACT_THRESHOLD_CELLS`` cells).
    workers : int, optional
        Processes for large tables (default: up to 2).
    snapper : EdgeSnapper, optional
    """

    def __init__(
        self,
        graph: RoadGraph,
        hospitals: Sequence[Hospital],
        *,
        turns: TurnGraph | None = None,
        max_eta_s: float = DEFAULT_MAX_ETA_S,
        compact: bool | None = None,
        workers: int | None = None,
        snapper: EdgeSnapper | None = None,
        max_snap_distance_m: float = DEFAULT_MAX_SNAP_DISTANCE_M,
    ) -> None:
        self.graph = graph
        self.turns = turns if turns is not None else build_turn_graph(graph)
        self.max_eta_s = float(max_eta_s)
        self.compact = compact
        self.workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        self.segments = snapper.segments if snapper is not None else road_segments(graph)
        self.snapper = snapper or EdgeSnapper(
            graph, segments=self.segments, max_distance_m=max_snap_distance_m
        )
        self.weights = make_weights(graph, self.segments, graph.edge_travel_time_s.copy(), 0)
        self.hospitals = snap_hospitals(self.snapper, hospitals, 0)
        self.on_segment = hospitals_by_segment(self.hospitals)
        self.adjacency = self.turns.adjacency(self.weights.edge_time)
        self.table: NDArray[Any] | None = None
        self.seconds: FloatArray | None = None
        self.build_seconds = 0.0

    @property
    def hospital_keys(self) -> tuple[Hashable, ...]:
        """Keys of the hospitals, in the order of ETA arrays."""
        return self.hospitals.keys

    def hospital_arcs(self) -> tuple[Int64Array, Int64Array, FloatArray]:
        """Virtual arcs into each hospital (see :func:`turn_hospital_arcs`)."""
        return turn_hospital_arcs(self.turns, self.weights, self.segments, self.hospitals)

    def precompute(self) -> float:
        """
        Build the state x hospital table.

        Returns
        -------
        float
            Seconds spent.
        """
        started = time.perf_counter()
        n, n_h = self.turns.n_states, len(self.hospitals.keys)
        compact = self.compact if self.compact is not None else n * n_h > COMPACT_THRESHOLD_CELLS
        self.table = build_turn_table(
            self.turns,
            self.weights,
            self.segments,
            self.hospitals,
            max_eta_s=self.max_eta_s,
            workers=self.workers,
            compact=compact,
        )
        self.seconds = tick_seconds(self.max_eta_s) if compact else None
        self.build_seconds = time.perf_counter() - started
        return self.build_seconds

    def _row(self, state: int) -> NDArray[Any]:
        if self.table is None:
            raise RuntimeError("precompute() first")
        row: NDArray[Any] = self.table[state]
        return row if self.seconds is None else self.seconds[row]

    def _exits(self, snap: Snap) -> list[tuple[int, float]]:
        return turn_exits(self.segments, self.weights, snap)

    def _direct(self, snap: Snap, eta: FloatArray) -> None:
        same = self.on_segment.get(snap.segment)
        if same:
            w, seg = self.weights, snap.segment
            direct_on_segment(
                eta, same, snap.segment_fraction, float(w.seg_fwd[seg]), float(w.seg_bwd[seg])
            )

    def eta_to_hospitals(self, lat: float, lng: float) -> tuple[Snap, FloatArray]:
        """
        Travel time from a point to every hospital, turns included.

        Returns
        -------
        snap : Snap
        eta_s : numpy.ndarray
            Seconds per hospital; ``inf`` when unreachable within the horizon.
        """
        snap = self.snapper.snap(lat, lng)
        if self.table is None:
            return snap, self.search_etas(snap)
        eta = np.full(len(self.hospitals.keys), np.inf)
        for state, offset in self._exits(snap):
            eta = np.minimum(eta, self._row(state) + offset)
        eta = eta.astype(np.float64, copy=False)
        self._direct(snap, eta)
        eta[eta > self.max_eta_s] = np.inf
        return snap, eta

    def search_etas(self, snap: Snap, limit: float | None = None) -> FloatArray:
        """ETAs from one bounded forward search on the expanded graph (no table)."""
        limit = self.max_eta_s if limit is None else limit
        return turn_search_etas(
            self.turns, self.weights, self.segments, self.hospitals, snap, limit, self.adjacency
        )
