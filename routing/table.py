"""Build the node x hospital travel-time table: one bounded reverse Dijkstra per hospital."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from routing.graph import FloatArray, RoadGraph, build_adjacency
from routing.snap import RoadSegments
from routing.table_cells import BATCH, SparseRows, fill
from routing.table_workers import build_parallel
from routing.weights import HospitalSet, Weights

#: Default horizon (seconds) of the table and of ETA queries: hospitals farther are ``inf``.
#: One hour bounds each of the per-hospital searches (half the precompute time of a 2 h
#: horizon on the 1M-node benchmark grid) and covers any transport an EMS plans by table.
DEFAULT_MAX_ETA_S = 3600.0
#: Tables with more cells than this are built by worker processes (when ``workers > 1``).
PARALLEL_THRESHOLD_CELLS = 20_000_000
#: Tables with more cells than this are stored as 16-bit ticks of ``max_eta_s / TICKS`` rather
#: than float32 (half the memory; within ``max_eta_s / 131068`` s, 0.03 s for a 1 h horizon).
COMPACT_THRESHOLD_CELLS = 128_000_000
OnSegment = dict[int, list[tuple[int, float]]]


@dataclass(frozen=True, eq=False)
class Table:
    """An immutable snapshot: swapped in one assignment, so a query never sees half an update."""

    weights: Weights
    hospitals: HospitalSet
    #: Node-major float32 seconds or uint16 ticks (``table[node, h]``: node -> h), or per
    #: state only the hospitals within a horizon (turn model of large regions).
    table: NDArray[Any] | SparseRows
    on_segment: OnSegment
    build_seconds: float
    seconds: FloatArray | None  # compact tables: seconds of each tick value (inf: unreached)
    #: Road metres along each fastest path (exact float32 tables only; None: search for them).
    distances: NDArray[np.float32] | None = None

    #: Farthest ETA the table answers exactly (a sparse table's horizon; else max_eta_s).
    horizon_s: float = math.inf

    def row(self, node: int) -> NDArray[Any]:
        """Seconds from ``node`` to every hospital."""
        table = self.table
        if not isinstance(table, np.ndarray):  # SparseRows
            sparse_row: NDArray[Any] = table.row(node)
            return sparse_row
        row: NDArray[Any] = table[node]
        return row if self.seconds is None else self.seconds[row]


def hospital_edges(
    graph: RoadGraph, segments: RoadSegments, w: Weights, hospitals: HospitalSet
) -> tuple[NDArray[np.int32], NDArray[np.int32], FloatArray, FloatArray]:
    """Virtual edges (and their metres) from each hospital segment's ends to node ``n + h``."""
    n_nodes = graph.n_nodes
    h = np.arange(len(hospitals.keys))
    seg, g = hospitals.segment, hospitals.fraction
    fwd, bwd = w.seg_fwd[seg], w.seg_bwd[seg]
    ok_u, ok_v = np.isfinite(fwd), np.isfinite(bwd)
    src = np.concatenate([segments.u[seg][ok_u], segments.v[seg][ok_v]]).astype(np.int32)
    tgt = np.concatenate([n_nodes + h[ok_u], n_nodes + h[ok_v]]).astype(np.int32)
    with np.errstate(invalid="ignore"):  # inf * 0 where a direction is closed; masked out below
        cost = np.concatenate([(g * fwd)[ok_u], ((1 - g) * bwd)[ok_v]])
    fe, be = segments.forward_edge[seg], segments.backward_edge[seg]
    lengths = graph.edge_length_m
    len_f = np.where(fe >= 0, lengths[np.maximum(fe, 0)], lengths[np.maximum(be, 0)])
    len_b = np.where(be >= 0, lengths[np.maximum(be, 0)], len_f)
    metres = np.concatenate([(g * len_f)[ok_u], ((1 - g) * len_b)[ok_v]])
    return src, tgt, cost, metres


def hospitals_by_segment(hospitals: HospitalSet) -> OnSegment:
    """Hospitals (index, fraction) on each road segment that holds any."""
    on_segment: OnSegment = {}
    for h in range(len(hospitals.keys)):
        on_segment.setdefault(int(hospitals.segment[h]), []).append(
            (h, float(hospitals.fraction[h]))
        )
    return on_segment


def build_table(
    graph: RoadGraph,
    segments: RoadSegments,
    w: Weights,
    hospitals: HospitalSet,
    *,
    max_eta_s: float,
    workers: int,
    compact: bool = False,
) -> tuple[NDArray[Any], OnSegment, NDArray[np.float32] | None]:
    """
    Fill the node-major table of seconds (or ticks) from every node to every hospital.

    Parameters
    ----------
    graph : RoadGraph
    segments : RoadSegments
    w : Weights
        Edge costs under the closures in force.
    hospitals : HospitalSet
    max_eta_s : float
        Search bound; farther cells are ``inf`` (or :data:`UNREACHED`).
    workers : int
        Processes for tables over :data:`PARALLEL_THRESHOLD_CELLS` cells.
    compact : bool
        16-bit ticks instead of float32 seconds.

    Returns
    -------
    table : numpy.ndarray
    on_segment : dict
        Hospitals per road segment (for the direct drive along a shared segment).
    distances : numpy.ndarray or None
        Metres of each fastest path (city-sized exact tables only).
    """

    n, n_h = graph.n_nodes, len(hospitals.keys)
    vs, vt, vc, vm = hospital_edges(graph, segments, w, hospitals)
    src = np.concatenate([graph.edge_source, vs])
    tgt = np.concatenate([graph.edge_target, vt])
    cost = np.concatenate([w.edge_time, vc])
    augmented, entry_edge = build_adjacency(n + n_h, src, tgt, cost)
    reverse = augmented.transpose().tocsr()
    parallel = workers > 1 and n * n_h > PARALLEL_THRESHOLD_CELLS
    on_segment = hospitals_by_segment(hospitals)
    dtype = np.dtype(np.uint16 if compact else np.float32)
    if n_h == 0:
        return np.empty((n, 0), dtype=dtype), on_segment, None
    batches = [np.arange(i, min(i + BATCH, n_h)) for i in range(0, n_h, BATCH)]
    if parallel and len(batches) > 1:
        table = build_parallel(reverse, n, n_h, batches, max_eta_s, workers, dtype)
        return table, on_segment, None
    table = np.empty((n, n_h), dtype=dtype)
    # City-sized exact tables also keep the metres of each fastest path: SOS intake then reads
    # distances instead of running a search per case. Large (compact) tables search on demand.
    distances = None
    metres = None
    if not compact:
        distances = np.empty((n, n_h), dtype=np.float32)
        all_metres = np.concatenate([graph.edge_length_m, vm])[entry_edge]
        metres = sp.csr_matrix(
            (all_metres, augmented.indices, augmented.indptr), shape=augmented.shape
        )
    for batch in batches:
        fill(table, reverse, n, batch, max_eta_s, distances=distances, metres=metres)
    return table, on_segment, distances
