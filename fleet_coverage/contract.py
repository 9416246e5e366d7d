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
    """Fold every non-target node with exactly two neighbours into the road passing it."""
    n = adj.shape[0]
    row, col, w = _simple_edges(adj)
    pairs = np.unique(np.concatenate([row * n + col, col * n + row]))
    neighbours = np.bincount(pairs // n, minlength=n)
    folded = neighbours == 2
    folded[np.asarray(targets, dtype=np.int64)] = False
    out_ptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n))])
    ptr, nxt, sec = out_ptr.tolist(), col.tolist(), w.tolist()
    is_folded = folded.tolist()
    end_node = np.full((n, 2), -1, dtype=np.int64)
    end_time = np.full((n, 2), np.inf)
    seen: set[tuple[int, int]] = set()  # (folded node, next node) already walked
    edges: dict[tuple[int, int], float] = {}

    def walk(prev: int, cur: int, total: float) -> None:
        """Follow a chain from ``prev`` through ``cur`` to the next kept node."""
        start = prev
        # (folded node, the node it moves on to, seconds from the start to it)
        path: list[tuple[int, int, float]] = [(prev, cur, 0.0)] if is_folded[prev] else []
        for _ in range(n):
            if not is_folded[cur]:
                break
            step = next(((nxt[j], sec[j]) for j in range(ptr[cur], ptr[cur + 1])
                         if nxt[j] != prev), None)
            if step is None:  # one-way against us: the chain is a dead end this way
                cur = -1
                break
            path.append((cur, step[0], total))
            prev, cur, total = cur, step[0], total + step[1]
        else:
            cur = -1  # a ring of folded nodes: no kept node ahead
        for node, ahead, so_far in path:
            if (node, ahead) in seen:
                continue
            seen.add((node, ahead))
            slot = 0 if end_node[node, 0] < 0 and np.isposinf(end_time[node, 0]) else 1
            if cur >= 0:
                end_node[node, slot] = cur
                end_time[node, slot] = total - so_far
            else:
                end_time[node, slot] = np.nan  # marks the slot used: leads nowhere
        if cur >= 0 and cur != start and not is_folded[start]:
            key = (start, cur)
            if total < edges.get(key, np.inf):
                edges[key] = total

    for u in np.flatnonzero(~folded).tolist():
        for j in range(ptr[u], ptr[u + 1]):
            walk(u, nxt[j], sec[j])
    # folded nodes whose way out no walk from a kept node passed (e.g. nothing drives into them)
    for x in np.flatnonzero(folded).tolist():
        for j in range(ptr[x], ptr[x + 1]):
            if (x, nxt[j]) not in seen:
                walk(x, nxt[j], sec[j])
    end_time[np.isnan(end_time)] = np.inf
    kept = np.flatnonzero(~folded)
    index = np.full(n, -1, dtype=np.int64)
    index[kept] = np.arange(len(kept))
    if edges:
        pairs_k = np.array(list(edges.keys()), dtype=np.int64)
        times = np.maximum(np.fromiter(edges.values(), float, len(edges)), MIN_EDGE_S)
        graph = sp.csr_matrix((times, (index[pairs_k[:, 0]], index[pairs_k[:, 1]])),
                              shape=(len(kept), len(kept)))
    else:
        graph = sp.csr_matrix((len(kept), len(kept)))
    mapped = np.where(end_node >= 0, index[np.maximum(end_node, 0)], -1)
    return Contraction(index, kept, graph, mapped, end_time)


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
