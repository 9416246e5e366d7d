"""The sparse turn table (per state, the hospitals within a horizon) answers as the dense one."""

from __future__ import annotations

import numpy as np
import pytest

import routing.turn_table as turn_table
from routing.closures import close_edges
from routing.engine import TravelTimeEngine
from routing.synthetic import synthetic_grid
from routing.table_cells import SparseRows
from routing.turns import build_turn_graph

HORIZON_S = 240.0


@pytest.fixture(scope="module")
def grid():  # type: ignore[no-untyped-def]
    graph = synthetic_grid(30, seed=3, oneway_fraction=0.3)
    rng = np.random.default_rng(5)
    picks = rng.integers(0, graph.n_nodes, 25)
    hospitals = [
        (i, float(graph.node_lat[n]), float(graph.node_lon[n])) for i, n in enumerate(picks)
    ]
    turns = build_turn_graph(graph)
    points = [
        (float(graph.node_lat[n]) + 2e-4, float(graph.node_lon[n]) - 1e-4)
        for n in rng.integers(0, graph.n_nodes, 60)
    ]
    return graph, hospitals, turns, points


def engines(grid, **sparse_options):  # type: ignore[no-untyped-def]
    graph, hospitals, turns, _ = grid
    dense = TravelTimeEngine(graph, hospitals, turns=turns, auto_refresh=False)
    sparse = TravelTimeEngine(
        graph,
        hospitals,
        turns=turns,
        auto_refresh=False,
        sparse_horizon_s=HORIZON_S,
        snapper=dense.snapper,
        **sparse_options,
    )
    dense.precompute()
    sparse.precompute()
    return dense, sparse


def assert_same_within_horizon(dense: TravelTimeEngine, sparse: TravelTimeEngine, points) -> None:  # type: ignore[no-untyped-def]
    inside = 0
    for lat, lng in points:
        want = dense.eta_to_hospitals(lat, lng)[1]
        got = sparse.eta_to_hospitals(lat, lng)[1]
        near = want <= HORIZON_S - 0.01
        inside += int(near.sum())
        # 16-bit ticks of HORIZON_S / 65534: within half a tick plus float32 rounding
        assert np.allclose(got[near], want[near], atol=0.01)
        assert np.all(np.isinf(got[want > HORIZON_S + 0.01]))
    assert inside > len(points)  # the comparison is not vacuous


def test_sparse_turn_table_equals_the_dense_one_within_its_horizon(grid) -> None:  # type: ignore[no-untyped-def]
    dense, sparse = engines(grid)
    table = sparse.table
    assert isinstance(table, SparseRows)
    n_states, n_h = table.shape
    assert n_states == grid[2].n_states and n_h == 25
    assert 0 < table.nnz < n_states * n_h  # only what lies within the horizon
    assert_same_within_horizon(dense, sparse, grid[3])


def test_sparse_turn_table_built_by_worker_processes_is_the_same(grid, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(turn_table, "PARALLEL_THRESHOLD_CELLS", 0)  # workers even for a toy
    _, serial = engines(grid)
    _, parallel = engines(grid, workers=2)
    a, b = serial.table, parallel.table
    assert isinstance(a, SparseRows) and isinstance(b, SparseRows)
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.hospital, b.hospital) and np.array_equal(a.ticks, b.ticks)


def test_nearest_widens_beyond_the_sparse_horizon(grid) -> None:  # type: ignore[no-untyped-def]
    dense, sparse = engines(grid)
    for lat, lng in grid[3][:10]:
        want = dense.nearest(lat, lng, k=12, with_distance=False)
        got = sparse.nearest(lat, lng, k=12, with_distance=False)
        assert [h.hospital_index for h in got] == [h.hospital_index for h in want]
        assert np.allclose([h.eta_s for h in got], [h.eta_s for h in want], atol=0.01)


def test_sparse_turn_table_follows_closures(grid) -> None:  # type: ignore[no-untyped-def]
    dense, sparse = engines(grid)
    graph = grid[0]
    closure = close_edges(graph, np.arange(0, graph.n_edges, 7), reason="test")
    for engine in (dense, sparse):
        engine.add_closure(closure)
        engine.precompute()
    assert_same_within_horizon(dense, sparse, grid[3])
