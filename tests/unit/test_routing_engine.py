"""ETAs from the table must equal an independent networkx search, and never be made up."""

from __future__ import annotations

import math
from collections.abc import Hashable

import networkx as nx
import numpy as np
import pytest

from routing.engine import TravelTimeEngine
from routing.graph import RoadGraph
from routing.snap import Snap
from routing.synthetic import synthetic_grid
from tests.unit.test_routing_osm_import import helsinki, reference_digraph
from tests.unit.test_routing_snap import two_streets


def attach(
    ref: nx.DiGraph, engine: TravelTimeEngine, snap: Snap, node: Hashable, *, into: bool
) -> None:
    """Add a point on a segment to the networkx graph with partial edge costs."""
    seg = engine.segments
    times = engine._weights.edge_time
    s, f = snap.segment, snap.segment_fraction
    u, v = int(seg.u[s]), int(seg.v[s])
    fwd = times[seg.forward_edge[s]] if seg.forward_edge[s] >= 0 else math.inf
    bwd = times[seg.backward_edge[s]] if seg.backward_edge[s] >= 0 else math.inf
    pairs = [(u, f * fwd), (v, (1 - f) * bwd)] if into else [(v, (1 - f) * fwd), (u, f * bwd)]
    for other, cost in pairs:
        if math.isfinite(cost):
            ref.add_edge(*((other, node) if into else (node, other)), weight=cost)


def reference_etas(
    engine: TravelTimeEngine, ref_base: nx.DiGraph, lat: float, lng: float
) -> np.ndarray:
    """Independent ETA: networkx on the road graph plus virtual incident and hospital nodes."""
    ref = ref_base.copy()
    incident = engine.snapper.snap(lat, lng)
    attach(ref, engine, incident, "incident", into=False)
    for h, snap in enumerate(engine.hospital_snaps):
        attach(ref, engine, snap, ("hospital", h), into=True)
        if snap.segment == incident.segment:  # drive straight along the shared segment
            f, g = incident.segment_fraction, snap.segment_fraction
            seg = engine.segments
            edge = seg.forward_edge[snap.segment] if g >= f else seg.backward_edge[snap.segment]
            if edge >= 0:
                ref.add_edge(
                    "incident", ("hospital", h), weight=abs(g - f) * engine._weights.edge_time[edge]
                )
    times = nx.single_source_dijkstra_path_length(ref, "incident", weight="weight")
    return np.array(
        [times.get(("hospital", h), math.inf) for h in range(len(engine.hospital_snaps))]
    )


def random_points(graph: RoadGraph, n: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    nodes = rng.integers(0, graph.n_nodes, n)
    lat = graph.node_lat[nodes] + rng.normal(0, 0.0004, n)
    lng = graph.node_lon[nodes] + rng.normal(0, 0.0008, n)
    return list(zip(lat.tolist(), lng.tolist(), strict=True))


def hospitals_for(graph: RoadGraph, n: int, seed: int) -> list[tuple[str, float, float]]:
    return [(f"h{i}", lat, lng) for i, (lat, lng) in enumerate(random_points(graph, n, seed))]


@pytest.fixture(scope="module")
def helsinki_engine() -> TravelTimeEngine:
    graph = helsinki()
    engine = TravelTimeEngine(graph, hospitals_for(graph, 12, seed=1), auto_refresh=False)
    engine.precompute()
    return engine


def test_table_shape_and_dtype(helsinki_engine: TravelTimeEngine) -> None:
    table = helsinki_engine.table
    assert table is not None
    assert table.shape == (helsinki_engine.graph.n_nodes, 12)
    assert table.dtype == np.float32 and table.flags.c_contiguous


def test_eta_matches_networkx_on_helsinki(helsinki_engine: TravelTimeEngine) -> None:
    ref = reference_digraph(helsinki_engine.graph)
    for lat, lng in random_points(helsinki_engine.graph, 40, seed=11):
        _, eta = helsinki_engine.eta_to_hospitals(lat, lng)
        np.testing.assert_allclose(eta, reference_etas(helsinki_engine, ref, lat, lng), atol=0.1)


def test_eta_matches_networkx_on_a_one_way_grid() -> None:
    graph = synthetic_grid(25, seed=4, oneway_fraction=0.5)
    engine = TravelTimeEngine(graph, hospitals_for(graph, 7, seed=2), auto_refresh=False)
    engine.precompute()
    ref = reference_digraph(graph)
    for lat, lng in random_points(graph, 30, seed=3):
        _, eta = engine.eta_to_hospitals(lat, lng)
        np.testing.assert_allclose(eta, reference_etas(engine, ref, lat, lng), atol=0.1)


def test_on_demand_path_agrees_with_the_table(helsinki_engine: TravelTimeEngine) -> None:
    for lat, lng in random_points(helsinki_engine.graph, 20, seed=12):
        snap, eta = helsinki_engine.eta_to_hospitals(lat, lng)
        np.testing.assert_allclose(helsinki_engine._eta_on_demand(snap), eta, atol=0.01)


def test_incident_and_hospital_on_the_same_segment() -> None:
    graph = two_streets()  # edge 0: 0 -> 1 in 10 s, edge 1: 1 -> 0 in 12 s
    lng = lambda f: 24.94 + f * 0.002  # noqa: E731
    engine = TravelTimeEngine(graph, [("ahead", 60.17, lng(0.8)), ("behind", 60.17, lng(0.1))])
    engine.precompute()
    snap, eta = engine.eta_to_hospitals(60.17, lng(0.5))
    assert snap.edge_index == 0
    assert eta[0] == pytest.approx(0.3 * 10.0, abs=1e-3)  # straight ahead along 0 -> 1
    assert eta[1] == pytest.approx(0.4 * 12.0, abs=1e-3)  # straight back along 1 -> 0


def test_one_way_exit_is_respected() -> None:
    graph = two_streets()  # 1 -> 2 is one-way north
    engine = TravelTimeEngine(graph, [("west", 60.17, 24.94)])
    engine.precompute()
    # Halfway up the one-way street: must drive on to node 2, which is a dead end -> unreachable.
    _, eta = engine.eta_to_hospitals(60.1705, 24.942)
    assert eta[0] == math.inf
    assert engine.nearest(60.1705, 24.942, k=3) == []
    # On the two-way street it is reachable.
    _, eta = engine.eta_to_hospitals(60.17, 24.941)
    assert math.isfinite(eta[0])


def test_nearest_sorted_with_mask_and_distance(helsinki_engine: TravelTimeEngine) -> None:
    lat, lng = random_points(helsinki_engine.graph, 1, seed=99)[0]
    _, eta = helsinki_engine.eta_to_hospitals(lat, lng)
    best = helsinki_engine.nearest(lat, lng, k=4)
    assert [b.hospital_index for b in best] == np.argsort(eta, kind="stable")[:4].tolist()
    assert [b.eta_s for b in best] == sorted(b.eta_s for b in best)
    for b in best:
        assert b.distance_m > 0
        # route to the hospital's location takes the same time and distance
        h_snap = helsinki_engine.hospital_snaps[b.hospital_index]
        route = helsinki_engine.route((lat, lng), h_snap.point)
        assert route is not None
        assert route.eta_s == pytest.approx(b.eta_s, abs=0.05)
        assert route.distance_m == pytest.approx(b.distance_m, abs=0.5)
    mask = np.ones(12, dtype=bool)
    mask[best[0].hospital_index] = False
    masked = helsinki_engine.nearest(lat, lng, k=3, eligible_mask=mask, with_distance=False)
    assert best[0].hospital_index not in [m.hospital_index for m in masked]
    assert all(math.isnan(m.distance_m) for m in masked)


def test_nearest_with_geometry_draws_the_route(helsinki_engine: TravelTimeEngine) -> None:
    """The top-k come with their route lines: from the incident's road point to the hospital's."""
    for lat, lng in random_points(helsinki_engine.graph, 5, seed=31):
        snap = helsinki_engine.snapper.snap(lat, lng)
        for b in helsinki_engine.nearest(lat, lng, k=3, with_geometry=True):
            line = b.geometry
            assert line is not None and line["type"] == "LineString"
            h_snap = helsinki_engine.hospital_snaps[b.hospital_index]
            assert line["coordinates"][0] == [snap.point[1], snap.point[0]]
            assert line["coordinates"][-1] == [h_snap.point[1], h_snap.point[0]]
            route = helsinki_engine.route((lat, lng), h_snap.point)
            assert route is not None and route.geometry == line
            assert route.distance_m == pytest.approx(b.distance_m, abs=0.5)
    assert helsinki_engine.nearest(60.17, 24.94, k=2)[0].geometry is None


def test_route_geometry_is_geojson_along_roads(helsinki_engine: TravelTimeEngine) -> None:
    graph = helsinki_engine.graph
    (a, b) = random_points(graph, 2, seed=21)
    route = helsinki_engine.route(a, b)
    assert route is not None
    geometry = route.geometry
    assert geometry["type"] == "LineString"
    coords = np.array(geometry["coordinates"])
    assert coords[0] == pytest.approx([route.origin.point[1], route.origin.point[0]])
    assert coords[-1] == pytest.approx([route.destination.point[1], route.destination.point[0]])
    assert route.distance_m >= 0.99 * float(
        np.sum(np.hypot(np.diff(coords[:, 0]) * 55_500, np.diff(coords[:, 1]) * 111_195))
    )
    # the route's time is the reference time from a to b's road point
    helsinki_engine_b = TravelTimeEngine(graph, [("b", *b)], auto_refresh=False)
    helsinki_engine_b.precompute()
    expected = reference_etas(helsinki_engine_b, reference_digraph(graph), *a)[0]
    assert route.eta_s == pytest.approx(expected, abs=0.1)


def test_route_line_passes_every_junction_including_the_first() -> None:
    """The line leaves the origin's road point for the path's first junction, not its second."""
    graph = synthetic_grid(12, seed=3, oneway_fraction=0.0)
    engine = TravelTimeEngine(graph, [], auto_refresh=False)
    a = (float(graph.node_lat[13] * 0.5 + graph.node_lat[14] * 0.5),
         float(graph.node_lon[13] * 0.5 + graph.node_lon[14] * 0.5))  # fmt: skip
    b = (float(graph.node_lat[100]), float(graph.node_lon[100]))
    route = engine.route(a, b)
    assert route is not None
    coords = [tuple(c) for c in route.geometry["coordinates"]]
    junctions = {(float(graph.node_lon[n]), float(graph.node_lat[n])) for n in (13, 14)}
    assert coords[1] in junctions  # the first junction the route reaches from mid-segment
    # every vertex between the two road points is a junction, and consecutive ones are joined
    lon_lat = zip(graph.node_lon.tolist(), graph.node_lat.tolist(), strict=True)
    nodes = {(x, y): i for i, (x, y) in enumerate(lon_lat)}
    path = [nodes[c] for c in coords[1:-1]]
    pairs = set(zip(graph.edge_source.tolist(), graph.edge_target.tolist(), strict=True))
    assert all((p, q) in pairs for p, q in zip(path, path[1:], strict=False))


def test_horizon_makes_far_hospitals_unreachable() -> None:
    graph = synthetic_grid(30, seed=5)
    hospitals = [("corner", float(graph.node_lat[0]), float(graph.node_lon[0]))]
    engine = TravelTimeEngine(graph, hospitals, max_eta_s=60.0)
    engine.precompute()
    far = graph.n_nodes - 1
    _, eta = engine.eta_to_hospitals(float(graph.node_lat[far]), float(graph.node_lon[far]))
    assert eta[0] == math.inf  # beyond the 60 s horizon: excluded, not guessed
    # nearest() widens to an on-demand search rather than lose the only hospital
    (found,) = engine.nearest(float(graph.node_lat[far]), float(graph.node_lon[far]), k=1)
    expected = reference_etas(
        engine, reference_digraph(graph), float(graph.node_lat[far]), float(graph.node_lon[far])
    )[0]
    assert found.hospital_index == 0 and found.eta_s == pytest.approx(expected, abs=0.1)
    assert found.eta_s > 60
    near = 1
    _, eta = engine.eta_to_hospitals(float(graph.node_lat[near]), float(graph.node_lon[near]))
    assert eta[0] < 60


@pytest.mark.parametrize("compact", [False, True])
def test_parallel_build_matches_serial(monkeypatch: pytest.MonkeyPatch, compact: bool) -> None:
    import routing.table as engine_module

    graph = synthetic_grid(40, seed=8)
    hospitals = hospitals_for(graph, 20, seed=4)
    serial = TravelTimeEngine(graph, hospitals, workers=1, compact=compact)
    serial.precompute()
    monkeypatch.setattr(engine_module, "PARALLEL_THRESHOLD_CELLS", 0)
    parallel = TravelTimeEngine(graph, hospitals, workers=2, compact=compact)
    parallel.precompute()
    assert serial.table is not None and parallel.table is not None
    assert serial.table.dtype == (np.uint16 if compact else np.float32)
    np.testing.assert_array_equal(serial.table, parallel.table)


def test_compact_table_is_within_half_a_tick_of_exact() -> None:
    """16-bit ticks halve the table; every ETA stays within max_eta_s / 131068 of the truth."""
    graph = synthetic_grid(30, seed=5, oneway_fraction=0.4)
    hospitals = hospitals_for(graph, 9, seed=6)
    horizon = 60.0  # short, so some hospitals lie beyond it and must read as unreachable
    exact = TravelTimeEngine(graph, hospitals, max_eta_s=horizon, compact=False)
    compact = TravelTimeEngine(graph, hospitals, max_eta_s=horizon, compact=True)
    exact.precompute()
    compact.precompute()
    assert compact.table.nbytes * 2 == exact.table.nbytes
    ref = reference_digraph(graph)
    half_tick = horizon / 65534 / 2
    beyond = within = 0
    for lat, lng in random_points(graph, 40, seed=12):
        _, want = exact.eta_to_hospitals(lat, lng)
        _, got = compact.eta_to_hospitals(lat, lng)
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        finite = np.isfinite(want)
        assert np.all(np.abs(got[finite] - want[finite]) <= half_tick + 1e-6)
        truth = reference_etas(compact, ref, lat, lng)
        truth[truth > horizon] = np.inf
        np.testing.assert_allclose(got, truth, atol=0.1)
        beyond += int(np.count_nonzero(~finite))
        within += int(np.count_nonzero(finite))
    assert beyond > 0 and within > 0


def test_invalid_incident_coordinates(helsinki_engine: TravelTimeEngine) -> None:
    from routing.errors import InvalidCoordinateError

    with pytest.raises(InvalidCoordinateError):
        helsinki_engine.eta_to_hospitals(math.nan, 24.94)


def test_table_distances_match_the_searched_routes(helsinki_engine: TravelTimeEngine) -> None:
    """City tables keep each fastest path's metres: no search at intake, the same answer."""
    assert helsinki_engine._current is not None and helsinki_engine._current.distances is not None
    for lat, lng in random_points(helsinki_engine.graph, 40, seed=5):
        quick = helsinki_engine.nearest(lat, lng, k=4)
        searched = helsinki_engine.nearest(lat, lng, k=4, with_geometry=True)
        assert [q.hospital_index for q in quick] == [s.hospital_index for s in searched]
        for q, s in zip(quick, searched, strict=True):
            assert q.distance_m == pytest.approx(s.distance_m, abs=0.5)
