"""The compact graph must keep the fastest of parallel edges and survive a cache round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from routing.errors import GraphFormatError
from routing.graph import (
    RoadGraph,
    build_adjacency,
    largest_strong_component,
    straight_geometry,
)
from routing.synthetic import synthetic_grid


def toy_graph(edges: list[tuple[int, int, float]], n: int) -> RoadGraph:
    src = np.array([e[0] for e in edges], dtype=np.int32)
    tgt = np.array([e[1] for e in edges], dtype=np.int32)
    lon = 24.9 + np.arange(n) * 0.001
    lat = np.full(n, 60.17)
    coords, offsets = straight_geometry(lon, lat, src, tgt)
    return RoadGraph(
        node_osm_id=np.arange(100, 100 + n),
        node_lon=lon,
        node_lat=lat,
        edge_source=src,
        edge_target=tgt,
        edge_length_m=np.full(len(edges), 50.0),
        edge_travel_time_s=np.array([e[2] for e in edges]),
        edge_osm_way_id=np.arange(len(edges)),
        geometry_coords=coords,
        geometry_offsets=offsets,
    )


def test_parallel_edges_keep_the_minimum_not_the_sum() -> None:
    src = np.array([0, 0, 0, 1], dtype=np.int32)
    tgt = np.array([1, 1, 1, 0], dtype=np.int32)
    matrix, entry_edge = build_adjacency(2, src, tgt, np.array([7.0, 3.0, 5.0, np.inf]))
    assert matrix.nnz == 1
    assert matrix[0, 1] == 3.0
    assert entry_edge.tolist() == [1]  # the closed (inf) edge 1 -> 0 is left out


def test_largest_strong_component_drops_and_reports() -> None:
    # 0 <-> 1 <-> 2 strongly connected; 3 only reachable one way; 4 <-> 5 an island
    graph = toy_graph(
        [(0, 1, 1), (1, 0, 1), (1, 2, 1), (2, 1, 1), (2, 3, 1), (4, 5, 1), (5, 4, 1)], 6
    )
    kept = largest_strong_component(graph)
    assert kept.n_nodes == 3
    assert kept.dropped_nodes == 3
    assert kept.dropped_components == 2
    assert sorted(kept.node_osm_id.tolist()) == [100, 101, 102]
    assert kept.n_edges == 4


def test_synthetic_grid_is_strongly_connected_with_one_way_streets() -> None:
    graph = synthetic_grid(40, seed=7, oneway_fraction=0.4)
    n, _ = connected_components(graph.adjacency, directed=True, connection="strong")
    assert n == 1
    assert graph.n_nodes == 1600
    two_way_pairs = 2 * 2 * 40 * 39
    assert graph.n_edges < two_way_pairs  # some streets are one-way
    assert np.all(graph.edge_travel_time_s > 0)
    asym = graph.adjacency - graph.adjacency.T
    assert abs(asym).sum() > 0


def test_synthetic_grid_is_reproducible() -> None:
    a = synthetic_grid(12, seed=3)
    b = synthetic_grid(12, seed=3)
    assert np.array_equal(a.edge_travel_time_s, b.edge_travel_time_s)


def test_save_load_round_trip(tmp_path: Path) -> None:
    graph = synthetic_grid(30, seed=1)
    path = graph.save(tmp_path / "grid")
    assert path.suffix == ".npz"
    loaded = RoadGraph.load(path)
    for name in ("node_osm_id", "node_lon", "edge_source", "edge_travel_time_s", "geometry_coords"):
        assert np.array_equal(getattr(graph, name), getattr(loaded, name))
    assert (loaded.adjacency != graph.adjacency).nnz == 0
    assert loaded.name == graph.name


def test_load_rejects_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(GraphFormatError):
        RoadGraph.load(bad)
    with pytest.raises(GraphFormatError):
        RoadGraph.load(tmp_path / "missing.npz")


def test_edges_must_point_at_nodes() -> None:
    with pytest.raises(GraphFormatError):
        RoadGraph(
            node_osm_id=np.array([1, 2]),
            node_lon=np.array([24.9, 24.91]),
            node_lat=np.array([60.1, 60.1]),
            edge_source=np.array([0], dtype=np.int32),
            edge_target=np.array([5], dtype=np.int32),
            edge_length_m=np.array([10.0]),
            edge_travel_time_s=np.array([1.0]),
            edge_osm_way_id=np.array([1]),
            geometry_coords=np.zeros((2, 2)),
            geometry_offsets=np.array([0, 2]),
        )
