"""Road graph with its pass-through nodes removed: coverage searches settle a third of the nodes.

Seven in ten Islamabad road nodes only continue a road (two neighbours, no junction). A node that
is not a target and has exactly two neighbours is folded into the edge that passes it; a search
from a position on such a road starts at the chain's ends instead (``ends``). Shortest times
between the nodes kept are exactly those of the full graph: a U-turn inside a chain never
shortens a path, and every target is kept, so no path has to stop inside a chain.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

#: Contractions kept per process (a region's searches at 8 and 15 minutes share one).
SHARED = 6
#: Edges of zero seconds become this: scipy's csgraph drops explicit zeros (no edge at all).
MIN_EDGE_S = 1e-6


@dataclass(frozen=True)
class Contraction:
    """The kept nodes, the edges between them, and how each folded node reaches them."""

    index: NDArray[np.int64]  # full node -> kept index (-1: folded into a chain)
    kept: NDArray[np.int64]  # kept index -> full node
    graph: sp.csr_matrix  # kept x kept, seconds
    end_node: NDArray[np.int64]  # (n, 2) kept index a folded node leads to, per direction
    end_time: NDArray[np.float64]  # (n, 2) seconds to it (inf: that way leads nowhere)

    def exits(self, node: int, seconds: float) -> list[tuple[int, float]]:
        """Where a search entering full ``node`` after ``seconds`` continues, as kept indices."""
        k = int(self.index[node])
        if k >= 0:
            return [(k, seconds)]
        return [
            (int(m), seconds + float(t))
            for m, t in zip(self.end_node[node], self.end_time[node], strict=True)
            if m >= 0 and np.isfinite(t)
        ]


def _simple_edges(adj: sp.csr_matrix) -> tuple[NDArray, NDArray, NDArray]:
    """(source, target, seconds) without loops, closed edges or duplicates (the fastest kept)."""
    coo = adj.tocoo()
    ok = np.isfinite(coo.data) & (coo.row != coo.col)
    row, col, w = coo.row[ok].astype(np.int64), coo.col[ok].astype(np.int64), coo.data[ok]
    order = np.lexsort((w, col, row))
    row, col, w = row[order], col[order], w[order]
    first = np.ones(len(row), dtype=bool)
    first[1:] = (row[1:] != row[:-1]) | (col[1:] != col[:-1])
    return row[first], col[first], w[first]


def contract(adj: sp.csr_matrix, targets: NDArray[np.integer]) -> Contraction:
    """Fold every non-target node with exactly two neighbours into the road passing it.

    Each directed edge into a folded node continues with that node's edge away from where it
    came (none: a one-way against us, the chain leads nowhere). Chains are summed by pointer
    jumping (list ranking): a few numpy passes instead of a Python walk (that took seconds on
    Islamabad, on the first read after every closure).
    """
    n = adj.shape[0]
    row, col, w = _simple_edges(adj)
    pairs = np.unique(np.concatenate([row * n + col, col * n + row]))
    neighbours = np.bincount(pairs // n, minlength=n)
    folded = neighbours == 2
    folded[np.asarray(targets, dtype=np.int64)] = False
    out_deg = np.bincount(row, minlength=n)
    out_ptr = np.concatenate([[0], np.cumsum(out_deg)])
    n_edges = len(row)
    # succ[e]: the edge a chain continues with after e (-1: e ends at a kept node, -2: nowhere)
    succ = np.full(n_edges, -1, dtype=np.int64)
    into = np.flatnonzero(folded[col])
    head = col[into]
    first = out_ptr[head]
    pick = np.full(len(into), -2, dtype=np.int64)
    for k in (0, 1):  # a folded node has at most two ways out: take the one not going back
        has = out_deg[head] > k
        cand = first + k
        ok = has & (col[np.minimum(cand, n_edges - 1)] != row[into])
        pick = np.where(ok & (pick == -2), cand, pick)
    succ[into] = pick
    acc = w.astype(np.float64).copy()
    end = np.where(succ == -1, col, -1)
    for _ in range(2 * max(1, int(np.ceil(np.log2(max(n_edges, 2))))) + 2):
        active = np.flatnonzero(succ >= 0)
        if not len(active):
            break
        nxt = succ[active]
        acc[active] = acc[active] + acc[nxt]
        end[active] = end[nxt]
        succ[active] = succ[nxt]
    succ[succ >= 0] = -2  # rings of folded nodes: no kept node ahead
    done = succ == -1
    # edges between kept nodes
    from_kept = done & ~folded[row] & (end != row)
    u, v, t = row[from_kept], end[from_kept], np.maximum(acc[from_kept], MIN_EDGE_S)
    order = np.lexsort((t, v, u))
    u, v, t = u[order], v[order], t[order]
    keep_first = np.ones(len(u), dtype=bool)
    keep_first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    kept = np.flatnonzero(~folded)
    index = np.full(n, -1, dtype=np.int64)
    index[kept] = np.arange(len(kept))
    graph = sp.csr_matrix(
        (t[keep_first], (index[u[keep_first]], index[v[keep_first]])),
        shape=(len(kept), len(kept)),
    )
    # where each folded node's ways out lead
    end_node = np.full((n, 2), -1, dtype=np.int64)
    end_time = np.full((n, 2), np.inf)
    leaving = np.flatnonzero(folded[row] & done)
    slot = leaving - out_ptr[row[leaving]]
    end_node[row[leaving], slot] = index[end[leaving]]
    end_time[row[leaving], slot] = acc[leaving]
    return Contraction(index, kept, graph, end_node, end_time)


_shared: OrderedDict[tuple[int, bytes], tuple[sp.csr_matrix, Contraction]] = OrderedDict()
_shared_lock = threading.Lock()


def contract_shared(adj: sp.csr_matrix, targets: NDArray[np.integer]) -> Contraction:
    """:func:`contract`, built once per weights and target set in this process."""
    targets = np.asarray(targets, dtype=np.int64)
    key = (id(adj), hashlib.blake2b(targets.tobytes(), digest_size=16).digest())
    with _shared_lock:
        found = _shared.get(key)
        if found is not None and found[0] is adj:
            _shared.move_to_end(key)
            return found[1]
        made = contract(adj, targets)  # under the lock: two threads never build the same one
        _shared[key] = (adj, made)
        while len(_shared) > SHARED:
            _shared.popitem(last=False)
        return made
