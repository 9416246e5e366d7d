"""Importing Helsinki must give the same travel times as an independent networkx search."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import networkx as nx
import numpy as np
import pyrosm
import pytest
from scipy.sparse.csgraph import connected_components, dijkstra

from routing.errors import RegionImportError
from routing.graph import RoadGraph
from routing.osm_import import build_graph, hospital_pois, travel_directions
from routing.synthetic import to_networkx as reference_digraph

HELSINKI = pyrosm.get_data("helsinki_pbf")


@lru_cache(maxsize=1)
def helsinki() -> RoadGraph:
    return build_graph(HELSINKI)


def test_helsinki_graph_shape() -> None:
    graph = helsinki()
    # pyrosm's "driving" network (no service roads) has 1,283 nodes in its largest strongly
    # connected component, its "driving+service" 1,620; ours adds parking aisles and driveways
    # (with their penalty) and leaves out private ways: see the next test.
    assert graph.n_nodes == 1664
    assert graph.n_edges > graph.n_nodes
    assert graph.dropped_nodes > 0 and graph.dropped_components > 0
    n, _ = connected_components(graph.adjacency, directed=True, connection="strong")
    assert n == 1
    assert np.all(np.isfinite(graph.edge_travel_time_s)) and np.all(graph.edge_travel_time_s > 0)
    assert graph.node_lon.min() > 24.93 and graph.node_lon.max() < 24.96


def test_graph_keeps_every_road_of_pyrosm_driving_with_service_roads() -> None:
    """An independent reader of the same file: every node it can drive between, we can too."""
    import networkx as nx

    nodes, edges = pyrosm.OSM(HELSINKI).get_network(network_type="driving+service", nodes=True)
    ref = nx.DiGraph()
    for u, v, oneway in zip(edges["u"], edges["v"], edges["oneway"], strict=True):
        ref.add_edge(u, v)
        if oneway not in ("yes", "1", "true"):
            ref.add_edge(v, u)
    largest = max(nx.strongly_connected_components(ref), key=len)
    assert largest <= set(helsinki().node_osm_id.tolist())


def test_travel_times_match_networkx_for_random_pairs() -> None:
    graph = helsinki()
    ref = reference_digraph(graph)
    rng = np.random.default_rng(42)
    sources = rng.choice(graph.n_nodes, 25, replace=False)
    ours = dijkstra(graph.adjacency, indices=sources)
    for row, source in enumerate(sources.tolist()):
        expected = nx.single_source_dijkstra_path_length(ref, source, weight="weight")
        targets = rng.choice(graph.n_nodes, 40, replace=False)
        for target in targets.tolist():
            assert ours[row, target] == pytest.approx(expected[target], abs=0.1)


def test_one_way_streets_make_travel_asymmetric() -> None:
    graph = helsinki()
    pairs = set(zip(graph.edge_source.tolist(), graph.edge_target.tolist(), strict=True))
    one_way = [(s, t) for s, t in pairs if (t, s) not in pairs]
    assert len(one_way) > 100  # Helsinki's centre is full of one-way streets
    s, t = one_way[0]
    times = dijkstra(graph.adjacency, indices=[s, t])
    assert times[0, t] != pytest.approx(times[1, s], abs=1.0)
    ref = reference_digraph(graph)
    assert nx.dijkstra_path_length(ref, s, t) == pytest.approx(times[0, t], abs=0.1)
    assert nx.dijkstra_path_length(ref, t, s) == pytest.approx(times[1, s], abs=0.1)
    assert not ref.has_edge(t, s)


@pytest.mark.parametrize(
    ("oneway", "junction", "highway", "expected"),
    [
        ("yes", None, "residential", (True, False)),
        ("true", None, "residential", (True, False)),
        ("1", None, "residential", (True, False)),
        ("-1", None, "residential", (False, True)),
        ("no", "roundabout", "primary", (True, True)),
        (None, "roundabout", "primary", (True, False)),
        (None, None, "motorway", (True, False)),
        ("reversible", None, "primary", (True, True)),
        (None, None, "residential", (True, True)),
        (float("nan"), None, "residential", (True, True)),
    ],
)
def test_travel_directions(oneway: object, junction: object, highway: str, expected: tuple) -> None:
    assert travel_directions(oneway, junction, highway) == expected


@pytest.mark.parametrize("content", [b"", b"this is not a protobuf at all" * 10])
def test_malformed_or_empty_pbf_raises_region_import_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.osm.pbf"
    path.write_bytes(content)
    with pytest.raises(RegionImportError):
        build_graph(path)
    with pytest.raises(RegionImportError):
        hospital_pois(path)


def test_missing_pbf_raises_region_import_error(tmp_path: Path) -> None:
    with pytest.raises(RegionImportError):
        build_graph(tmp_path / "nowhere.osm.pbf")


def test_helsinki_extract_has_no_hospitals() -> None:
    assert hospital_pois(HELSINKI) == []
