"""Road times from unit and post positions to every demand cell: one bounded search each.

Built on the routing engine's public graph, snapper and current weights (closures included);
the engine itself is not changed. A position joins the road the engine's way (snapped to a
segment, leaving by either end for the partial time of the edge); the search starts from a
virtual node with those two exits, so each position costs exactly one Dijkstra.
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

from routing import Snap, TravelTimeEngine

#: Positions remembered per weights version (units parked at posts are asked for again and again).
CACHE_SIZE = 1024


def node_of(engine: TravelTimeEngine, snap: Snap) -> int:
    """The road node standing for a snapped point: the nearer end of its segment."""
    seg = snap.segment
    return int(engine.segments.u[seg] if snap.segment_fraction <= 0.5 else engine.segments.v[seg])


class Reach:
    """Times from positions to a fixed set of target nodes (demand cells, then posts)."""

    def __init__(self, engine: TravelTimeEngine, targets: NDArray[np.int64], limit_s: float):
        self.engine = engine
        self.targets = np.asarray(targets, dtype=np.int64)
        self.limit_s = float(limit_s)
        self._lock = threading.Lock()
        self._weights: Any = None
        self._graph: sp.csr_matrix | None = None
        self._cache: OrderedDict[tuple[int, int], NDArray[np.float32]] = OrderedDict()
        self.searches = 0

    def _extended(self) -> tuple[Any, sp.csr_matrix]:
        """The weight matrix plus one virtual source row with two editable exits."""
        weights = self.engine.current_weights
        if weights is not self._weights or self._graph is None:
            adj = weights.adjacency
            n = adj.shape[0]
            indptr = np.append(adj.indptr, [adj.indptr[-1] + 2]).astype(np.int64)
            indices = np.append(adj.indices, [0, 1]).astype(np.int32)
            data = np.append(adj.data, [math.inf, math.inf])
            graph = sp.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))
            graph.has_sorted_indices = False
            self._weights, self._graph = weights, graph
            self._cache.clear()
        return self._weights, self._graph

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
            weights, graph = self._extended()
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
            exits = self.exits(snap)
            if not exits:
                times = np.full(len(self.targets), np.inf, dtype=np.float32)
            else:
                n = graph.shape[0] - 1
                start = graph.indptr[n]
                (a, ta) = exits[0]
                (b, tb) = exits[1] if len(exits) > 1 else (a, math.inf)
                graph.indices[start:start + 2] = (a, b)
                # csgraph drops explicit zeros: a position exactly on a node gets a tiny offset
                graph.data[start:start + 2] = (max(ta, 1e-3), max(tb, 1e-3))
                dist = dijkstra(graph, directed=True, indices=n, limit=self.limit_s)
                times = dist[self.targets].astype(np.float32)
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
