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
    COMPACT_THRESHOLD_CELLS,
    DEFAULT_MAX_ETA_S,
    hospitals_by_segment,
)
from routing.table_cells import SparseRows, tick_seconds
from routing.turn_table import build_turn_table, turn_hospital_arcs
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
    sparse_horizon_s : float, optional
        Keep per state only the hospitals within this horizon (a
        :class:`routing.turn_table.SparseRows` table): the form that fits a 1M-node region.
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
        sparse_horizon_s: float | None = None,
    ) -> None:
        self.graph = graph
        self.sparse_horizon_s = sparse_horizon_s
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
        self.table: NDArray[Any] | SparseRows | None = None
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
            sparse_horizon_s=self.sparse_horizon_s,
        )
        dense = not isinstance(self.table, SparseRows)
        self.seconds = tick_seconds(self.max_eta_s) if compact and dense else None
        self.build_seconds = time.perf_counter() - started
        return self.build_seconds

    def _row(self, state: int) -> NDArray[Any]:
        if self.table is None:
            raise RuntimeError("precompute() first")
        if isinstance(self.table, SparseRows):
            return self.table.row(state)
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
        if isinstance(self.table, SparseRows):
            for state, offset in self._exits(snap):
                self.table.lower(eta, state, offset)
        else:
            for state, offset in self._exits(snap):
                eta = np.minimum(eta, self._row(state) + offset)
        eta = eta.astype(np.float64, copy=False)
        self._direct(snap, eta)
        eta[eta > self.horizon_s] = np.inf
        return snap, eta

    @property
    def horizon_s(self) -> float:
        """Farthest ETA the table answers (exactly): the sparse horizon, else ``max_eta_s``."""
        if self.sparse_horizon_s is None:
            return self.max_eta_s
        return min(self.max_eta_s, self.sparse_horizon_s)

    def search_etas(self, snap: Snap, limit: float | None = None) -> FloatArray:
        """ETAs from one bounded forward search on the expanded graph (no table)."""
        limit = self.max_eta_s if limit is None else limit
        return turn_search_etas(
            self.turns, self.weights, self.segments, self.hospitals, snap, limit, self.adjacency
        )
