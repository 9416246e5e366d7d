"""The state x hospital table of the edge-based graph: dense, or sparse up to a horizon.

A dense table of a 1M-node region (3.6M edge states) with 500 hospitals needs 3.6 GB of
16-bit cells and 500 reverse searches that each cover half the region. The sparse form keeps,
for each state, only the hospitals within ``horizon_s`` (exact, 16-bit ticks of
``horizon_s / 65534``), found by searches bounded by that horizon: a 20 min horizon costs a
sixth of the memory and a fifth of the search work. Beyond the horizon a hospital is ``inf``,
as beyond ``max_eta_s`` in the dense table, and :meth:`TravelTimeEngine.nearest` widens to an
on-demand search when fewer than ``k`` eligible hospitals are within it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from routing.graph import FloatArray, Int64Array
from routing.snap import RoadSegments
from routing.table import PARALLEL_THRESHOLD_CELLS
from routing.table_cells import (
    BATCH,
    UNREACHED,
    Columns,
    SparseRows,
    fill,
    sparse_columns,
    tick_seconds,
)
from routing.table_workers import build_parallel, build_sparse_parallel
from routing.turns import TurnGraph
from routing.weights import HospitalSet, Weights


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


def reverse_turn_graph(
    turns: TurnGraph, w: Weights, segments: RoadSegments, hospitals: HospitalSet
) -> sp.csr_matrix:
    """The expanded graph plus one virtual node per hospital (``n_states + h``), reversed."""
    n, n_h = turns.n_states, len(hospitals.keys)
    state, hospital, cost = turn_hospital_arcs(turns, w, segments, hospitals)
    a = w.turn_adjacency if w.turn_adjacency is not None else turns.adjacency(w.edge_time)
    a = a.tocoo()
    augmented = sp.csr_matrix(
        (
            np.concatenate([a.data, np.maximum(cost, 1e-3)]),
            (np.concatenate([a.row, state]), np.concatenate([a.col, n + hospital])),
        ),
        shape=(n + n_h, n + n_h),
    )
    augmented.sum_duplicates()
    return augmented.transpose().tocsr()


def build_turn_table(
    turns: TurnGraph,
    w: Weights,
    segments: RoadSegments,
    hospitals: HospitalSet,
    *,
    max_eta_s: float,
    workers: int,
    compact: bool,
    sparse_horizon_s: float | None = None,
) -> NDArray[Any] | SparseRows:
    """
    The state x hospital table under weights ``w``.

    Parameters
    ----------
    turns, w, segments, hospitals
        The expanded graph, its weights and the snapped hospitals.
    max_eta_s : float
        Horizon of a dense table.
    workers : int
        Processes for large tables.
    compact : bool
        16-bit ticks instead of float32 seconds (dense tables).
    sparse_horizon_s : float, optional
        Build a :class:`SparseRows` table up to this horizon instead.

    Returns
    -------
    numpy.ndarray or SparseRows
    """

    n, n_h = turns.n_states, len(hospitals.keys)
    reverse = reverse_turn_graph(turns, w, segments, hospitals)
    batches = [np.arange(i, min(i + BATCH, n_h)) for i in range(0, n_h, BATCH)]
    parallel = workers > 1 and n * n_h > PARALLEL_THRESHOLD_CELLS and len(batches) > 1
    if sparse_horizon_s is not None:
        if parallel:
            columns = build_sparse_parallel(reverse, n, n_h, batches, sparse_horizon_s, workers)
        else:
            columns = [sparse_columns(reverse, n, b, sparse_horizon_s) for b in batches]
        return assemble_sparse(columns, n, n_h, sparse_horizon_s)
    dtype = np.dtype(np.uint16 if compact else np.float32)
    if n_h == 0:
        return np.empty((n, 0), dtype=dtype)
    if parallel:
        return build_parallel(reverse, n, n_h, batches, max_eta_s, workers, dtype)
    table = np.empty((n, n_h), dtype=dtype)
    for batch in batches:
        fill(table, reverse, n, batch, max_eta_s)
    return table


def assemble_sparse(columns: list[Columns], n: int, n_h: int, horizon_s: float) -> SparseRows:
    """Turn hospital-major columns into the state-major table (a linear counting sort)."""
    counts = np.concatenate([c[0] for c in columns]) if columns else np.zeros(0, np.int64)
    indptr = np.zeros(n_h + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    states = np.empty(int(indptr[-1]), dtype=np.int32)
    ticks = np.empty(int(indptr[-1]), dtype=np.uint16)
    at = 0
    while columns:  # copy and release each batch, so it is never held twice
        _, s, t = columns.pop(0)
        states[at : at + len(s)] = s
        ticks[at : at + len(t)] = t
        at += len(s)
    by_state = sp.csc_matrix((ticks, states, indptr), shape=(n, n_h)).tocsr()
    del states, ticks
    by_state.sort_indices()
    return SparseRows(
        indptr=by_state.indptr.astype(np.int64),
        hospital=by_state.indices.astype(np.uint16 if n_h <= 65535 else np.uint32),
        ticks=by_state.data,
        n_hospitals=n_h,
        horizon_s=float(horizon_s),
        seconds=tick_seconds(horizon_s),
    )


__all__ = [
    "SparseRows",
    "UNREACHED",
    "assemble_sparse",
    "build_turn_table",
    "reverse_turn_graph",
    "sparse_columns",
    "turn_hospital_arcs",
]
