"""Road times from unit and post positions to every demand cell: one bounded search each.

Built on the routing engine's public graph, snapper and current weights (closures included);
the engine itself is not changed. A position joins the road the engine's way (snapped to a
segment, leaving by either end for the partial time of the edge); the search starts from a
virtual node with those exits, so each position costs exactly one Dijkstra, run on the graph
with its pass-through nodes folded (:mod:`fleet_coverage.contract`).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from fleet_coverage.contract import Contraction, contract_shared
from routing import Snap, TravelTimeEngine

#: Ways into the contracted graph from a position: two segment ends, each folded node two ends.
EXITS = 4
#: Positions remembered per weights version (units parked at posts are asked for again and again).
CACHE_SIZE = 1024


def node_of(engine: TravelTimeEngine, snap: Snap) -> int:
    """The road node standing for a snapped point: the nearer end of its segment."""
    seg = snap.segment
    return int(engine.segments.u[seg] if snap.segment_fraction <= 0.5 else engine.segments.v[seg])


class Reach:
    """Times from positions to a fixed set of target nodes (demand cells, then posts)."""

    def __init__(self, engine: TravelTimeEngine, targets: NDArray[np.int64], limit_s: float,
                 *, fold: bool = True):
        self.engine = engine
        self.targets = np.asarray(targets, dtype=np.int64)
        self.fold = fold  # False: search the whole graph (the benchmark's baseline)
        self.limit_s = float(limit_s)
        self._lock = threading.Lock()
        self._weights: Any = None
        self._graph: sp.csr_matrix | None = None
        self._contraction: Contraction | None = None
        self._target_index = np.zeros(0, dtype=np.int64)
        self._cache: OrderedDict[tuple[int, int], NDArray[np.float32]] = OrderedDict()
        self.searches = 0

    def _extended(self) -> tuple[Contraction, sp.csr_matrix]:
        """The contracted graph plus one virtual source row with editable exits."""
        weights = self.engine.current_weights
        if weights is not self._weights or self._graph is None:
            kept = self.targets if self.fold else np.arange(weights.adjacency.shape[0])
            contraction = contract_shared(weights.adjacency, kept)
            adj = contraction.graph
            n = adj.shape[0]
            indptr = np.append(adj.indptr, [adj.indptr[-1] + EXITS]).astype(np.int64)
            indices = np.append(adj.indices, np.arange(EXITS)).astype(np.int32)
            data = np.append(adj.data, np.full(EXITS, math.inf))
            graph = sp.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))
            graph.has_sorted_indices = False
            self._weights, self._graph, self._contraction = weights, graph, contraction
            self._target_index = contraction.index[self.targets]
            self._cache.clear()
        assert self._contraction is not None
        return self._contraction, self._graph

    def prepare(self) -> None:
        """Build the contracted graph now (start-up, off the request path), not on first ask."""
        with self._lock:
            self._extended()

    def exits(self, snap: Snap) -> list[tuple[int, float]]:
        """Ways off the position's segment: (node, seconds), as the engine defines them."""
        w = self.engine.current_weights
        seg, f = snap.segment, snap.segment_fraction
        out = []
        fwd, bwd = float(w.seg_fwd[seg]), float(w.seg_bwd[seg])
        if math.isfinite(fwd):
            out.append((int(self.engine.segments.v[seg]), fwd * (1.0 - f)))
        if math.isfinite(bwd):
            out.append((int(self.engine.segments.u[seg]), bwd * f))
        return out

    def from_snap(self, snap: Snap) -> NDArray[np.float32]:
        """Seconds to every target (``inf`` beyond ``limit_s``), cached per road position."""
        key = (snap.segment, round(snap.segment_fraction * 1000))
        with self._lock:
            contraction, graph = self._extended()
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
            exits = [e for node, seconds in self.exits(snap)
                     for e in contraction.exits(node, seconds)]
            if not exits:
                times = np.full(len(self.targets), np.inf, dtype=np.float32)
            else:
                n = graph.shape[0] - 1
                start = graph.indptr[n]
                for slot in range(EXITS):
                    node, seconds = exits[slot] if slot < len(exits) else (exits[0][0], math.inf)
                    graph.indices[start + slot] = node
                    # csgraph drops explicit zeros: a position exactly on a node gets a tiny offset
                    graph.data[start + slot] = max(seconds, 1e-3)
                dist = dijkstra(graph, directed=True, indices=n, limit=self.limit_s)
                times = dist[self._target_index].astype(np.float32)
                self.searches += 1
            self._cache[key] = times
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            return times

    def from_point(self, lat: float, lng: float) -> tuple[Snap, NDArray[np.float32]]:
        """Snap a position and return its times (off-network positions reach nothing)."""
        snap = self.engine.snapper.snap(lat, lng)
        if snap.off_network:
            return snap, np.full(len(self.targets), np.inf, dtype=np.float32)
        return snap, self.from_snap(snap)

    def matrix(self, points: list[tuple[float, float]]) -> NDArray[np.float32]:
        """One row of target times per (lat, lng)."""
        if not points:
            return np.zeros((0, len(self.targets)), dtype=np.float32)
        return np.vstack([self.from_point(lat, lng)[1] for lat, lng in points])
