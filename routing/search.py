"""On-demand searches from an incident: ETAs, paths, lengths and route lines (current weights)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from routing.graph import FloatArray, RoadGraph
from routing.snap import RoadSegments, Snap
from routing.weights import HospitalSet, Weights

#: A path found by :func:`paths`: (eta s, metres, node path, "network" | "direct").
Path = tuple[float, float, list[int], str]
#: Predecessors of a multi-source search: (pred rows, start nodes, start offsets).
Trace = tuple[NDArray[np.int32] | None, list[int], list[float]]


def search_from(
    graph: RoadGraph,
    segments: RoadSegments,
    snap: Snap,
    w: Weights,
    limit: float,
    *,
    predecessors: bool,
) -> tuple[FloatArray, NDArray[np.int64], Trace]:
    """
    Bounded forward Dijkstra from the two ends of the incident's segment.

    Returns
    -------
    node_time : numpy.ndarray
        Seconds from the incident to every node (``inf`` beyond ``limit``).
    which : numpy.ndarray
        Index of the start (exit of the segment) each node was reached from.
    trace : tuple
        Predecessor rows (when asked), start nodes and their offsets.
    """
    seg, f = snap.segment, snap.segment_fraction
    starts: list[int] = []
    offsets: list[float] = []
    fwd, bwd = float(w.seg_fwd[seg]), float(w.seg_bwd[seg])
    if fwd < math.inf:
        starts.append(int(segments.v[seg]))
        offsets.append(fwd * (1.0 - f))
    if bwd < math.inf:
        starts.append(int(segments.u[seg]))
        offsets.append(bwd * f)
    if not starts:  # both directions closed: the incident cannot leave its segment
        none = np.full(graph.n_nodes, np.inf)
        return none, np.zeros(graph.n_nodes, dtype=np.int64), (None, [], [])
    result = dijkstra(
        w.adjacency, directed=True, indices=starts, limit=limit, return_predecessors=predecessors
    )
    dist, pred = result if predecessors else (result, None)
    total = dist + np.asarray(offsets)[:, None]
    which = np.argmin(total, axis=0)
    node_time = total[which, np.arange(total.shape[1])]
    return node_time, which, (pred, starts, offsets)


def search_etas(
    graph: RoadGraph,
    segments: RoadSegments,
    snap: Snap,
    w: Weights,
    hospitals: HospitalSet,
    limit: float,
) -> FloatArray:
    """ETAs to every hospital from one bounded forward search (``inf`` beyond ``limit``)."""
    node_time, _, _ = search_from(graph, segments, snap, w, limit, predecessors=False)
    eta = arrival(node_time, segments, w, hospitals)
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


def segment_lengths(graph: RoadGraph, segments: RoadSegments, seg: int) -> tuple[float, float]:
    """Metres of a segment driven ``u -> v`` and ``v -> u`` (the other way's when one-way)."""
    fe, be = int(segments.forward_edge[seg]), int(segments.backward_edge[seg])
    lf = float(graph.edge_length_m[fe]) if fe >= 0 else math.nan
    lb = float(graph.edge_length_m[be]) if be >= 0 else math.nan
    return (lf if fe >= 0 else lb), (lb if be >= 0 else lf)


def paths(
    graph: RoadGraph,
    segments: RoadSegments,
    snap: Snap,
    targets: list[tuple[float, int]],
    w: Weights,
    limit: float,
) -> list[Path | None]:
    """(eta, distance, node path, how) from ``snap`` to points (fraction, segment)."""
    node_time, which, (pred, starts, _) = search_from(
        graph, segments, snap, w, limit, predecessors=True
    )
    seg_i, f = snap.segment, snap.segment_fraction
    length_fwd, length_bwd = segment_lengths(graph, segments, seg_i)
    results: list[Path | None] = []
    for g, seg_t in targets:
        u_t, v_t = int(segments.u[seg_t]), int(segments.v[seg_t])
        t_len_fwd, t_len_bwd = segment_lengths(graph, segments, seg_t)
        options = []
        fwd_t, bwd_t = float(w.seg_fwd[seg_t]), float(w.seg_bwd[seg_t])
        if fwd_t < math.inf and np.isfinite(node_time[u_t]):
            options.append((float(node_time[u_t]) + g * fwd_t, u_t, g * t_len_fwd))
        if bwd_t < math.inf and np.isfinite(node_time[v_t]):
            options.append((float(node_time[v_t]) + (1 - g) * bwd_t, v_t, (1 - g) * t_len_bwd))
        best: Path | None = None
        if options and pred is not None:
            eta, end, tail = min(options)
            row = int(which[end])
            nodes = walk(pred[row], starts[row], end)
            start_len = (
                (1 - f) * length_fwd if starts[row] == int(segments.v[seg_i]) else f * length_bwd
            )
            dist = start_len + path_length(graph, nodes, w) + tail
            best = (float(eta), float(dist), nodes, "network")
        if seg_t == seg_i:
            fw, bw = float(w.seg_fwd[seg_i]), float(w.seg_bwd[seg_i])
            if g >= f and fw < math.inf and (best is None or (g - f) * fw <= best[0]):
                best = ((g - f) * fw, (g - f) * length_fwd, [], "direct")
            elif g <= f and bw < math.inf and (best is None or (f - g) * bw <= best[0]):
                best = ((f - g) * bw, (f - g) * length_bwd, [], "direct")
        results.append(best)
    return results


def path_length(graph: RoadGraph, nodes: list[int], w: Weights) -> float:
    """Metres along a node path (the fastest of parallel edges at each step)."""
    return float(graph.edge_length_m[path_edges(w, nodes)].sum()) if len(nodes) > 1 else 0.0


def route_line(
    graph: RoadGraph,
    start: tuple[float, float],
    end: tuple[float, float],
    path: Path,
    w: Weights,
) -> dict[str, Any]:
    """
    GeoJSON line from one road point to another along a path found by :func:`paths`.

    The line runs from ``start`` through every junction of the path, the first one included,
    then along each edge's geometry to ``end``.
    """
    _, _, nodes, how = path
    coords: list[list[float]] = [[start[1], start[0]]]
    if how == "network" and nodes:
        first = nodes[0]
        coords.append([float(graph.node_lon[first]), float(graph.node_lat[first])])
        for e in path_edges(w, nodes):
            coords.extend(graph.edge_coords(int(e))[1:].tolist())
    coords.append([end[1], end[0]])
    return {"type": "LineString", "coordinates": coords}


def direct_on_segment(
    eta: FloatArray, same: list[tuple[int, float]], f: float, fwd: float, bwd: float
) -> None:
    """Lower ETAs of hospitals on the incident's own segment to the direct drive along it."""
    for h, g in same:
        if g >= f and fwd < math.inf:
            eta[h] = min(eta[h], (g - f) * fwd)
        if g <= f and bwd < math.inf:
            eta[h] = min(eta[h], (f - g) * bwd)


def arrival(
    node_time: FloatArray, segments: RoadSegments, w: Weights, hospitals: HospitalSet
) -> FloatArray:
    """Time to each hospital's road point given times to every node."""
    seg = hospitals.segment
    g = hospitals.fraction
    fwd, bwd = w.seg_fwd[seg], w.seg_bwd[seg]
    with np.errstate(invalid="ignore"):
        via_u = node_time[segments.u[seg]] + np.where(np.isfinite(fwd), g * fwd, np.inf)
        via_v = node_time[segments.v[seg]] + np.where(np.isfinite(bwd), (1 - g) * bwd, np.inf)
    return np.minimum(via_u, via_v).astype(np.float64)


def walk(pred: NDArray[np.int32], start: int, end: int) -> list[int]:
    """Node path from ``start`` to ``end`` along a predecessor row."""
    nodes = [end]
    node = end
    while node != start:
        node = int(pred[node])
        if node < 0:
            raise RuntimeError("broken predecessor chain")
        nodes.append(node)
    nodes.reverse()
    return nodes


def path_edges(w: Weights, nodes: list[int]) -> NDArray[np.int64]:
    """Edge used between consecutive path nodes (the fastest of parallel edges)."""
    a = w.adjacency
    out = np.empty(max(len(nodes) - 1, 0), dtype=np.int64)
    for i in range(len(nodes) - 1):
        lo, hi = a.indptr[nodes[i]], a.indptr[nodes[i] + 1]
        j = lo + int(np.searchsorted(a.indices[lo:hi], nodes[i + 1]))
        out[i] = w.adjacency_edge[j]
    return out
