"""What a table cell holds, and the search that fills one batch of hospitals' cells.

Shared by the in-process builders (:mod:`routing.table`, :mod:`routing.turn_table`) and the
worker processes (:mod:`routing.table_workers`), so that none of them imports another's
builder: the kernels sit below all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from routing.graph import FloatArray

TICKS = 65534
#: The compact cell value for a hospital unreachable within the horizon.
UNREACHED = 65535
#: Hospitals searched per Dijkstra call (one call fills a block of columns).
BATCH = 8


def tick_seconds(max_eta_s: float) -> FloatArray:
    """Seconds of each 16-bit tick value (``inf`` for :data:`UNREACHED`)."""
    seconds = np.arange(UNREACHED + 1, dtype=np.float64) * (max_eta_s / TICKS)
    seconds[UNREACHED] = np.inf
    return seconds


@dataclass(frozen=True, eq=False)
class SparseRows:
    """Per state, the hospitals within the horizon and their 16-bit ticks (state-major CSR)."""

    indptr: NDArray[np.int64]
    hospital: NDArray[np.unsignedinteger[Any]]  # uint16 up to 65,535 hospitals, else uint32
    ticks: NDArray[np.uint16]
    n_hospitals: int
    horizon_s: float
    seconds: FloatArray  # seconds of each tick value

    @property
    def shape(self) -> tuple[int, int]:
        """``(states, hospitals)``, as the dense table's."""
        return len(self.indptr) - 1, self.n_hospitals

    @property
    def nbytes(self) -> int:
        """Bytes held by the table (its index included)."""
        return self.indptr.nbytes + self.hospital.nbytes + self.ticks.nbytes

    @property
    def dtype(self) -> np.dtype[Any]:
        """Cell type (for reports)."""
        return self.ticks.dtype

    @property
    def nnz(self) -> int:
        """Stored (state, hospital) pairs."""
        return len(self.ticks)

    def row(self, state: int) -> FloatArray:
        """Seconds from ``state`` to every hospital (``inf`` beyond the horizon)."""
        out = np.full(self.n_hospitals, np.inf)
        self.lower(out, state, 0.0)
        return out

    def lower(self, eta: FloatArray, state: int, offset: float) -> None:
        """Lower ``eta`` to ``offset`` + the row of ``state`` where that is less, in place
        (a query folds its exits into one array instead of building a row for each)."""
        lo, hi = int(self.indptr[state]), int(self.indptr[state + 1])
        hospitals = self.hospital[lo:hi]
        via = self.seconds[self.ticks[lo:hi]]
        via += offset
        eta[hospitals] = np.minimum(eta[hospitals], via)


def fill(
    table: NDArray[Any],
    reverse: sp.csr_matrix,
    n: int,
    batch: NDArray[np.int64],
    limit: float,
    *,
    distances: NDArray[np.float32] | None = None,
    metres: sp.csr_matrix | None = None,
) -> None:
    """Write the columns of one batch of hospitals (virtual nodes ``n + batch``)."""
    if distances is not None and metres is not None:
        dist, pred = dijkstra(
            reverse, directed=True, indices=n + batch, limit=limit, return_predecessors=True
        )
        for row, h in enumerate(batch.tolist()):
            distances[:, h] = _tree_metres(metres, pred[row], n + h)[:n]
        dist = dist[:, :n]
    else:
        dist = dijkstra(reverse, directed=True, indices=n + batch, limit=limit)[:, :n]
    if table.dtype == np.uint16:
        # Ticks of limit / TICKS seconds, rounded to the nearest; inf (beyond the limit) saturates.
        dist = np.minimum(np.rint(dist * (TICKS / limit)), UNREACHED)
    # Written a block of columns at a time: one cache line per row instead of one per cell.
    table[:, batch[0] : batch[-1] + 1] = dist.T


def _tree_metres(metres: sp.csr_matrix, pred: NDArray[np.int32], root: int) -> FloatArray:
    """Metres from every node to ``root`` along the shortest-time tree ``pred`` (inf: none).

    ``pred[x]`` is the next node on x's fastest way to the root. The metres of the steps are
    summed up the tree by pointer jumping: each round adds the sum of the next stretch and
    doubles its length, so a tree of depth d takes log2(d) vectorised rounds (a Dijkstra on
    the tree took 15 ms per hospital on Islamabad, this 2 ms).
    """
    size = metres.shape[0]
    out = np.full(size, np.inf)
    out[root] = 0.0
    nodes = np.flatnonzero(pred >= 0)
    if len(nodes) == 0:  # nothing reaches the root (every way in is closed)
        return out
    up = np.arange(size)
    up[nodes] = pred[nodes]
    acc = np.zeros(size)
    acc[nodes] = np.asarray(metres[nodes, up[nodes]], dtype=np.float64).ravel()
    while True:
        further = up[up]
        if np.array_equal(further, up):
            break
        acc += acc[up]
        up = further
    out[nodes] = acc[nodes]
    return out


Columns = tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.uint16]]
"""One batch of hospitals: (stored states per hospital, the states, their ticks)."""


def sparse_columns(
    reverse: sp.csr_matrix, n: int, batch: NDArray[np.int64], horizon_s: float
) -> Columns:
    """The states within ``horizon_s`` of each hospital of a batch, and their ticks."""
    dist = dijkstra(reverse, directed=True, indices=n + batch, limit=horizon_s)[:, :n]
    counts = np.empty(len(batch), dtype=np.int64)
    states: list[NDArray[np.int32]] = []
    ticks: list[NDArray[np.uint16]] = []
    for i, row in enumerate(dist):
        reached = np.flatnonzero(row <= horizon_s)
        counts[i] = len(reached)
        states.append(reached.astype(np.int32))
        ticks.append(
            np.minimum(np.rint(row[reached] * (TICKS / horizon_s)), TICKS).astype(np.uint16)
        )
    return counts, np.concatenate(states), np.concatenate(ticks)
