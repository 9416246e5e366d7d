"""Folding pass-through nodes never changes a coverage time: contracted vs full-graph searches."""

from __future__ import annotations

import math

import numpy as np
import pyrosm
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from fleet_coverage.contract import contract
from fleet_coverage.reach import Reach
from routing import TravelTimeEngine
from routing.osm_import import build_graph


@pytest.fixture(scope="module")
def helsinki():
    """The real Helsinki extract: roads with many pass-through nodes, one-ways and dead ends."""
    graph = build_graph(pyrosm.get_data("helsinki_pbf"))
    return TravelTimeEngine(graph, [], auto_refresh=False)


def full_graph_times(engine, reach: Reach, lat: float, lng: float, targets):
    """The reference: one Dijkstra on the whole graph from a virtual node at the position."""
    snap = engine.snapper.snap(lat, lng)
    adj = engine.current_weights.adjacency.tocoo()
    n = adj.shape[0]
    exits = reach.exits(snap)
    rows = np.concatenate([adj.row, np.full(len(exits), n)])
    cols = np.concatenate([adj.col, [node for node, _ in exits]])
    data = np.concatenate([np.maximum(adj.data, 1e-6), [max(s, 1e-3) for _, s in exits]])
    graph = sp.csr_matrix((data, (rows, cols)), shape=(n + 1, n + 1))
    return dijkstra(graph, directed=True, indices=n)[targets]


def test_most_nodes_are_folded_and_every_target_is_kept(helsinki):
    adj = helsinki.current_weights.adjacency
    targets = np.arange(0, adj.shape[0], 50)
    folded = contract(adj, targets)
    assert (folded.index[targets] >= 0).all()
    assert len(folded.kept) < 0.7 * adj.shape[0]  # the point of it
    assert folded.graph.shape == (len(folded.kept), len(folded.kept))


@settings(max_examples=40, deadline=None)
@given(
    lat=st.floats(60.164, 60.179), lng=st.floats(24.935, 24.953),
    every=st.integers(3, 97), limit=st.sampled_from([60.0, 180.0, 1e6]),
)
def test_contracted_reach_equals_the_full_graph(helsinki, lat, lng, every, limit):
    targets = np.arange(0, helsinki.graph.n_nodes, every, dtype=np.int64)
    reach = Reach(helsinki, targets, limit_s=limit)
    snap, times = reach.from_point(lat, lng)
    if snap.off_network:
        return
    expected = full_graph_times(helsinki, reach, lat, lng, targets)
    expected = np.where(expected <= limit, expected, np.inf)
    got = times.astype(np.float64)
    assert np.array_equal(np.isinf(got), np.isinf(expected)), (lat, lng, every)
    finite = np.isfinite(expected)
    assert np.allclose(got[finite], expected[finite], atol=2e-2)


def test_a_one_way_chain_is_followed_only_forwards():
    # 0 -> 1 -> 2 -> 3 one way, 3 <-> 4; nodes 1 and 2 are pass-through nodes, 0 and 3 targets
    row = np.array([0, 1, 2, 3, 4])
    col = np.array([1, 2, 3, 4, 3])
    adj = sp.csr_matrix((np.array([10.0, 20.0, 30.0, 5.0, 5.0]), (row, col)), shape=(5, 5))
    folded = contract(adj, np.array([0, 3]))
    assert folded.index[1] < 0 and folded.index[2] < 0 and folded.index[4] >= 0
    # from node 1 the road leads to 3 in 50 s, never back to 0
    assert folded.exits(1, 0.0) == [(int(folded.index[3]), 50.0)]
    assert folded.exits(2, 1.0) == [(int(folded.index[3]), 31.0)]
    dist = dijkstra(folded.graph, directed=True, indices=int(folded.index[3]))
    assert dist[folded.index[4]] == 5.0 and math.isinf(dist[folded.index[0]])
    forward = dijkstra(folded.graph, directed=True, indices=int(folded.index[0]))
    assert forward[folded.index[3]] == 60.0
