"""Travel time from any incident to every hospital in microseconds, from a node x hospital table.

The engine is split by job: :mod:`routing.weights` (edge costs, hospital snaps),
:mod:`routing.table` and :mod:`routing.table_workers` (building the table),
:mod:`routing.hotswap` (live state and atomic swaps), :mod:`routing.search` (on-demand
searches and route lines) and this module (the queries callers use).
"""

from __future__ import annotations

import math
import time
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from routing import search
from routing.graph import FloatArray
from routing.hotswap import DEFAULT_FALLBACK_LIMIT_S, SwappableTables
from routing.snap import Snap
from routing.table import COMPACT_THRESHOLD_CELLS, DEFAULT_MAX_ETA_S, PARALLEL_THRESHOLD_CELLS
from routing.table_cells import SparseRows
from routing.turn_engine import turn_exits, turn_search_etas
from routing.weights import Hospital

__all__ = [
    "COMPACT_THRESHOLD_CELLS",
    "DEFAULT_FALLBACK_LIMIT_S",
    "DEFAULT_MAX_ETA_S",
    "PARALLEL_THRESHOLD_CELLS",
    "Hospital",
    "NearestHospital",
    "Route",
    "TravelTimeEngine",
]


class NearestHospital(NamedTuple):
    """One entry of :meth:`TravelTimeEngine.nearest`."""

    hospital_index: int
    eta_s: float
    distance_m: float
    geometry: dict[str, Any] | None = None
    """GeoJSON ``LineString`` of the route, when asked for (``with_geometry``)."""


class Route(NamedTuple):
    """A driving route between two snapped points."""

    eta_s: float
    distance_m: float
    geometry: dict[str, Any]
    """GeoJSON ``LineString`` in lon/lat, from the origin's road point to the destination's."""
    origin: Snap
    destination: Snap


class TravelTimeEngine(SwappableTables):
    """
    Answer "how long from here to each hospital" from a precomputed table.

    Convention. An incident is snapped to the nearest road segment ``(u, v)`` at fraction
    ``f`` (from ``u``); it may leave towards ``v`` for ``(1 - f)`` of the ``u -> v`` travel
    time, or towards ``u`` for ``f`` of the ``v -> u`` time, when those directions exist. A
    hospital is snapped the same way at fraction ``g`` of its segment ``(c, d)`` and is reached
    from ``c`` for ``g`` of the ``c -> d`` time or from ``d`` for ``(1 - g)`` of the ``d -> c``
    time. Internally each hospital is a virtual node with those two entry edges, so
    ``table[x, h]`` is the exact shortest time from node ``x`` to the hospital's road point, and
    the ETA is ``min(exit cost + table[exit, h])``, or the direct drive along the segment when
    incident and hospital share it. Partial costs assume a uniform speed along an edge.

    ``table`` is node-major (``n_nodes x n_hospitals``): a query reads two contiguous rows.
    Cells are float32 seconds, or, for tables over :data:`COMPACT_THRESHOLD_CELLS` cells (or
    with ``compact=True``), uint16 ticks of ``max_eta_s / 65534`` seconds: 2 bytes a cell, a
    1M-node x 500-hospital table in 1 GB, and ETAs within half a tick (0.03 s at the default
    1 h horizon) of the exact value; ties closer than that may rank either way. It is built by
    one Dijkstra per hospital on the transposed graph, bounded by ``max_eta_s`` (default 1 h):
    :meth:`eta_to_hospitals` reports a hospital farther than that as ``inf``. :meth:`nearest`
    never loses a far hospital: when fewer than ``k`` eligible ones lie within the horizon it
    widens to an on-demand search bounded by ``fallback_limit_s`` (default 4 h).
    Unreachable hospitals are ``inf`` and never ranked.

    When closures or the hospital set change, the table is stale until rebuilt (in a
    background thread by default). Meanwhile queries run a single-source Dijkstra from the
    incident on the current weights, bounded by ``max_eta_s`` - slower (a few milliseconds in
    a city, 0.1-0.2 s on a 1M-node graph) but never stale. An expired closure is noticed by
    the next query, which rebuilds the weights (about a second at 1M nodes) before answering.

    ETAs are road times from the incident's road point: the distance from the incident to the
    road (``snap.distance_m``) is not converted into time; ``snap.off_network`` flags points
    farther than ``max_snap_distance_m``. Tables with more than
    :data:`PARALLEL_THRESHOLD_CELLS` cells are built by ``workers`` subprocesses.

    ``distance_m`` (road length of the time-optimal path) is not tabulated, to keep the table at
    4 bytes per node and hospital; :meth:`nearest` and :meth:`route` compute it on demand with
    one bounded Dijkstra with predecessors.

    Parameters
    ----------
    graph : RoadGraph
    hospitals : sequence of (key, lat, lng)
    max_eta_s : float
        Horizon of the table and of ETA queries, seconds.
    fallback_limit_s : float
        Bound of the widened search of :meth:`nearest`, seconds.
    max_snap_distance_m : float
        ``off_network`` threshold for snapping.
    workers : int, optional
        Processes used by :meth:`precompute` for large tables (default: up to 2).
    auto_refresh : bool
        Rebuild the table in a background thread after each change.
    compact : bool, optional
        Store 16-bit ticks instead of float32 seconds (default: only for large tables).
    snapper : EdgeSnapper, optional
        Reuse an index built for the same graph.
    turns : TurnGraph, optional
        The graph's edge-based expansion (:func:`routing.turns.build_turn_graph`): ETAs then
        honour turn restrictions, turn costs, U-turns and junction delays, closures included;
        the table has one row per state (about 2 per road node, 3.6 on a grid) instead of per
        node. ``distance_m`` and route lines still follow the node graph's fastest path.
    sparse_horizon_s : float, optional
        With ``turns``: keep per state only the hospitals within this horizon
        (:class:`routing.turn_table.SparseRows`, the form that fits a 1M-node region); ETAs
        are exact up to it and ``inf`` beyond, and :meth:`nearest` widens on demand.
    """

    # ------------------------------------------------------------------ queries

    def eta_to_hospitals(self, lat: float, lng: float) -> tuple[Snap, NDArray[np.float64]]:
        """
        Travel time from a point to every hospital.

        Parameters
        ----------
        lat, lng : float
            Incident position, WGS84 degrees.

        Returns
        -------
        snap : Snap
            Where the incident joins the road network (check ``snap.off_network``).
        eta_s : numpy.ndarray
            Seconds per hospital (order of :attr:`hospital_keys`); ``inf`` when unreachable
            within the horizon.

        Raises
        ------
        InvalidCoordinateError
            NaN, infinite or out-of-range coordinates.
        """
        snap = self.snapper.snap(lat, lng)
        if time.time() >= self._next_expiry:
            self.expire_closures()
        current = self._current
        if (
            current is None
            or current.weights is not self._weights
            or (current.hospitals is not self._hospitals)
        ):
            return snap, self._eta_on_demand(snap)
        w = current.weights
        seg, f = snap.segment, snap.segment_fraction
        u, v = int(self.segments.u[seg]), int(self.segments.v[seg])
        fwd, bwd = float(w.seg_fwd[seg]), float(w.seg_bwd[seg])
        if self.turns is not None:  # rows are edge states: leave by either edge's end
            eta = np.full(len(current.hospitals.keys), np.inf)
            sparse = current.table if isinstance(current.table, SparseRows) else None
            for state, offset in turn_exits(self.segments, w, snap):
                if sparse is not None:
                    sparse.lower(eta, state, offset)
                else:
                    eta = np.minimum(eta, current.row(state) + offset)
        elif fwd == math.inf:
            eta = current.row(u) + bwd * f
        elif bwd == math.inf:
            eta = current.row(v) + fwd * (1.0 - f)
        else:
            eta = np.minimum(current.row(v) + fwd * (1.0 - f), current.row(u) + bwd * f)
        eta = eta.astype(np.float64, copy=False)
        same = current.on_segment.get(seg)
        if same:
            search.direct_on_segment(eta, same, f, fwd, bwd)
        eta[eta > current.horizon_s] = np.inf  # exact up to the table's horizon, as on demand
        return snap, eta

    def access_edges(
        self, snap: Snap
    ) -> tuple[list[tuple[int, float]], list[tuple[int, int, float]]]:
        """
        The partial edges that join an incident and the hospitals to the road graph.

        They spell out the convention of the class docstring, so an external router
        (pgRouting, networkx) can answer the same query with virtual nodes.

        Parameters
        ----------
        snap : Snap
            The incident's snap.

        Returns
        -------
        exits : list of (node, seconds)
            Ways off the incident's segment.
        entries : list of (hospital index, node, seconds)
            Ways onto each hospital's road point (under the current closures).
        """
        w, hospitals = self._weights, self._hospitals
        seg, f = snap.segment, snap.segment_fraction
        exits = []
        if w.seg_fwd[seg] < math.inf:
            exits.append((int(self.segments.v[seg]), float(w.seg_fwd[seg]) * (1 - f)))
        if w.seg_bwd[seg] < math.inf:
            exits.append((int(self.segments.u[seg]), float(w.seg_bwd[seg]) * f))
        entries = []
        for h, (hs, g) in enumerate(
            zip(hospitals.segment.tolist(), hospitals.fraction.tolist(), strict=True)
        ):
            if w.seg_fwd[hs] < math.inf:
                entries.append((h, int(self.segments.u[hs]), float(w.seg_fwd[hs]) * g))
            if w.seg_bwd[hs] < math.inf:
                entries.append((h, int(self.segments.v[hs]), float(w.seg_bwd[hs]) * (1 - g)))
        return exits, entries

    def _eta_on_demand(self, snap: Snap) -> NDArray[np.float64]:
        return self._search_etas(snap, self.max_eta_s)

    def _search_etas(self, snap: Snap, limit: float) -> NDArray[np.float64]:
        """ETAs from one bounded forward search on the current weights."""
        w = self._weights
        if self.turns is not None:
            return turn_search_etas(
                self.turns, w, self.segments, self._hospitals, snap, limit, w.turn_adjacency
            )
        return search.search_etas(
            self.graph, self.segments, snap, self._weights, self._hospitals, limit
        )

    def nearest(
        self,
        lat: float,
        lng: float,
        *,
        k: int = 5,
        eligible_mask: NDArray[np.bool_] | None = None,
        with_distance: bool = True,
        with_geometry: bool = False,
    ) -> list[NearestHospital]:
        """
        The ``k`` hospitals with the shortest ETA.

        Parameters
        ----------
        lat, lng : float
            Incident position.
        k : int
            How many to return at most.
        eligible_mask : numpy.ndarray of bool, optional
            One flag per hospital (capabilities, diversion); ineligible ones are skipped.
        with_distance : bool
            Compute ``distance_m`` (one bounded Dijkstra, milliseconds); ``nan`` otherwise.
        with_geometry : bool
            Also return each route's GeoJSON line (from the same search).

        Returns
        -------
        list of NearestHospital
            Sorted by ETA; unreachable hospitals (or farther than ``fallback_limit_s``) are
            never included.
        """
        snap, eta = self.eta_to_hospitals(lat, lng)
        if eligible_mask is not None:
            eta = np.where(eligible_mask, eta, np.inf)
        n_finite = int(np.count_nonzero(np.isfinite(eta)))
        n_eligible = len(eta) if eligible_mask is None else int(np.count_nonzero(eligible_mask))
        if n_finite < min(k, n_eligible) and self.fallback_limit_s > self.max_eta_s:
            eta = self._search_etas(snap, self.fallback_limit_s)  # beyond the horizon
            if eligible_mask is not None:
                eta = np.where(eligible_mask, eta, np.inf)
            n_finite = int(np.count_nonzero(np.isfinite(eta)))
        k = min(k, n_finite)
        if k <= 0:
            return []
        idx = np.argpartition(eta, k - 1)[:k] if k < len(eta) else np.arange(len(eta))
        idx = idx[np.argsort(eta[idx], kind="stable")]
        idx = idx[np.isfinite(eta[idx])]
        if not (with_distance or with_geometry):
            return [NearestHospital(int(h), float(eta[h]), math.nan) for h in idx]
        if not with_geometry:
            known = self._table_distances(snap, idx, eta)
            if known is not None:
                return known
        w, hospitals = self._weights, self._hospitals
        targets = [(float(hospitals.fraction[h]), int(hospitals.segment[h])) for h in idx]
        limit = float(eta[idx].max()) + 1.0
        paths = search.paths(self.graph, self.segments, snap, targets, w, limit)
        found = []
        for h, path in zip(idx.tolist(), paths, strict=True):
            if path is None:  # only when the table and the weights disagree mid-refresh
                found.append(NearestHospital(h, float(eta[h]), math.nan))
                continue
            line = None
            if with_geometry:
                end = hospitals.snaps[h].point
                line = search.route_line(self.graph, snap.point, end, path, w)
            found.append(NearestHospital(h, float(eta[h]), path[1], line))
        return found

    def _table_distances(
        self, snap: Snap, idx: NDArray[np.int64], eta: FloatArray
    ) -> list[NearestHospital] | None:
        """Distances read from the precomputed table (no search), or None where it cannot.

        The exit (towards ``u`` or ``v``) is chosen exactly as :meth:`eta_to_hospitals` chose
        it, so the distance is that of the path whose time was reported.
        """
        current = self._current
        if (
            current is None
            or current.distances is None
            or current.weights is not self._weights
            or current.hospitals is not self._hospitals
            or snap.segment in current.on_segment  # a direct drive along the segment: search
        ):
            return None
        w, seg, f = current.weights, snap.segment, snap.segment_fraction
        u, v = int(self.segments.u[seg]), int(self.segments.v[seg])
        fwd, bwd = float(w.seg_fwd[seg]), float(w.seg_bwd[seg])
        length_fwd, length_bwd = search.segment_lengths(self.graph, self.segments, seg)
        table, distances = current.table, current.distances
        if not isinstance(table, np.ndarray):
            return None  # a sparse (turn) table keeps no distances
        found = []
        for h in idx.tolist():
            best_t, best_d = math.inf, math.inf
            if fwd < math.inf:
                best_t = float(table[v, h]) + fwd * (1.0 - f)
                best_d = float(distances[v, h]) + (1.0 - f) * length_fwd
            if bwd < math.inf and float(table[u, h]) + bwd * f < best_t:
                best_d = float(distances[u, h]) + f * length_bwd
            if not math.isfinite(best_d):
                return None  # beyond the horizon (a fallback search found it): search
            found.append(NearestHospital(h, float(eta[h]), best_d))
        return found

    def route(
        self,
        origin: tuple[float, float],
        destination: tuple[float, float],
        *,
        limit_s: float | None = None,
    ) -> Route | None:
        """
        Fastest driving route between two points, under the closures in force.

        Parameters
        ----------
        origin, destination : tuple of float
            ``(lat, lng)``.
        limit_s : float, optional
            Search bound in seconds (default ``max_eta_s``).

        Returns
        -------
        Route or None
            ``None`` when the destination cannot be reached within the bound.
        """
        start = self.snapper.snap(*origin)
        end = self.snapper.snap(*destination)
        if time.time() >= self._next_expiry:
            self.expire_closures()
        w = self._weights
        (found,) = search.paths(
            self.graph,
            self.segments,
            start,
            [(end.segment_fraction, end.segment)],
            w,
            limit_s or self.max_eta_s,
        )
        if found is None:
            return None
        eta, dist, _, _ = found
        line = search.route_line(self.graph, start.point, end.point, found, w)
        return Route(eta, dist, line, start, end)
