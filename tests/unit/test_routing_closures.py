"""A closed road changes ETAs at once, and reopens by itself when the closure expires."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely

from routing.closures import ClosureSet, apply_closures, close_along_line, close_area, close_edges
from routing.engine import TravelTimeEngine
from routing.graph import RoadGraph
from routing.synthetic import synthetic_grid
from tests.unit.test_routing_engine import reference_etas
from tests.unit.test_routing_osm_import import reference_digraph


@pytest.fixture
def grid() -> RoadGraph:
    return synthetic_grid(15, seed=6, oneway_fraction=0.0)


def engine_for(graph: RoadGraph) -> tuple[TravelTimeEngine, tuple[float, float]]:
    """One hospital at the grid's north-east corner; incident at the south-west corner."""
    corner = graph.n_nodes - 1
    engine = TravelTimeEngine(
        graph,
        [("ne", float(graph.node_lat[corner]), float(graph.node_lon[corner]))],
        auto_refresh=False,
    )
    engine.precompute()
    return engine, (float(graph.node_lat[0]), float(graph.node_lon[0]))


def route_edges(engine: TravelTimeEngine, origin: tuple[float, float]) -> np.ndarray:
    route = engine.route(origin, engine.hospital_snaps[0].point)
    assert route is not None
    line = shapely.LineString(route.geometry["coordinates"])
    return close_along_line(engine.graph, line, tolerance_m=1.0).edges


def test_close_edges_closes_both_directions(grid: RoadGraph) -> None:
    closure = close_edges(grid, [0])
    s, t = grid.edge_source[0], grid.edge_target[0]
    reverse = np.flatnonzero((grid.edge_source == t) & (grid.edge_target == s))
    assert set(closure.edges.tolist()) == {0, *reverse.tolist()}
    assert close_edges(grid, [0], both_directions=False).edges.tolist() == [0]


def test_apply_closures_sets_inf_on_a_copy_and_respects_expiry(grid: RoadGraph) -> None:
    now = datetime.now(UTC)
    closure = close_edges(grid, [3], expires_at=now + timedelta(minutes=5))
    weights = apply_closures(grid.edge_travel_time_s, [closure], now=now)
    assert math.isinf(weights[3]) and math.isfinite(grid.edge_travel_time_s[3])
    later = apply_closures(grid.edge_travel_time_s, [closure], now=now + timedelta(minutes=6))
    np.testing.assert_array_equal(later, grid.edge_travel_time_s)
    closures = ClosureSet([closure])
    assert closures.next_expiry(now) == closure.expires_at
    assert closures.prune(now + timedelta(minutes=6)) == [closure] and len(closures) == 0


def test_close_area_hits_edges_inside_polygon(grid: RoadGraph) -> None:
    centre = grid.n_nodes // 2 + 7
    lat, lng = float(grid.node_lat[centre]), float(grid.node_lon[centre])
    area = shapely.Point(lng, lat).buffer(0.0005)  # ~50 m
    closure = close_area(grid, area, reason="fire")
    touching = (grid.edge_source == centre) | (grid.edge_target == centre)
    assert set(np.flatnonzero(touching).tolist()) <= set(closure.edges.tolist())
    assert closure.kind == "area"


def test_closure_changes_eta_immediately_then_table_catches_up(grid: RoadGraph) -> None:
    engine, origin = engine_for(grid)
    _, before = engine.eta_to_hospitals(*origin)
    closed = route_edges(engine, origin)
    now = datetime.now(UTC)
    closure = close_edges(grid, closed, expires_at=now + timedelta(hours=1), reason="crash")
    engine.add_closure(closure, now=now)
    assert engine.pending
    _, during = engine.eta_to_hospitals(*origin)  # on-demand path, already honouring it
    assert during[0] > before[0] + 1
    np.testing.assert_allclose(
        during, reference_etas(engine, reference_digraph_with(engine), *origin), atol=0.1
    )
    engine.refresh()
    assert not engine.pending
    _, fresh = engine.eta_to_hospitals(*origin)
    assert fresh[0] == pytest.approx(during[0], abs=0.01)
    route = engine.route(origin, engine.hospital_snaps[0].point)
    assert route is not None and route.eta_s == pytest.approx(fresh[0], abs=0.05)
    # expiry restores the original ETA
    engine.expire_closures(now=now + timedelta(hours=2))
    _, after = engine.eta_to_hospitals(*origin)
    assert after[0] == pytest.approx(before[0], abs=0.01)


def reference_digraph_with(engine: TravelTimeEngine):
    """Reference networkx graph on the engine's current (closure-applied) weights."""
    graph = engine.graph
    weights = engine._weights.edge_time
    open_edges = np.isfinite(weights)
    view = RoadGraph(
        node_osm_id=graph.node_osm_id,
        node_lon=graph.node_lon,
        node_lat=graph.node_lat,
        edge_source=graph.edge_source[open_edges],
        edge_target=graph.edge_target[open_edges],
        edge_length_m=graph.edge_length_m[open_edges],
        edge_travel_time_s=weights[open_edges],
        edge_osm_way_id=graph.edge_osm_way_id[open_edges],
        geometry_coords=np.zeros((2 * int(open_edges.sum()), 2)),
        geometry_offsets=np.arange(0, 2 * int(open_edges.sum()) + 1, 2),
    )
    return reference_digraph(view)


def test_closing_every_way_in_makes_a_hospital_unreachable(grid: RoadGraph) -> None:
    engine, origin = engine_for(grid)
    corner = grid.n_nodes - 1
    into = np.flatnonzero((grid.edge_target == corner) | (grid.edge_source == corner))
    engine.add_closure(close_edges(grid, into))
    _, eta = engine.eta_to_hospitals(*origin)
    assert eta[0] == math.inf
    assert engine.nearest(*origin, k=1) == []
    engine.refresh()
    _, eta = engine.eta_to_hospitals(*origin)
    assert eta[0] == math.inf


def test_background_refresh_honours_a_closure_within_ten_seconds(grid: RoadGraph) -> None:
    engine, origin = engine_for(grid)
    engine.auto_refresh = True
    _, before = engine.eta_to_hospitals(*origin)
    started = time.monotonic()
    engine.add_closure(close_edges(grid, route_edges(engine, origin)))
    assert engine.wait_until_fresh(timeout=10)
    assert time.monotonic() - started < 10
    _, after = engine.eta_to_hospitals(*origin)
    assert after[0] > before[0]


def test_lift_closure_restores(grid: RoadGraph) -> None:
    engine, origin = engine_for(grid)
    _, before = engine.eta_to_hospitals(*origin)
    closure = close_edges(grid, route_edges(engine, origin))
    engine.add_closure(closure)
    assert engine.lift_closure(closure.closure_id)
    assert not engine.lift_closure(closure.closure_id)
    _, after = engine.eta_to_hospitals(*origin)
    assert after[0] == pytest.approx(before[0], abs=0.01)


def test_expiry_is_noticed_by_queries(grid: RoadGraph) -> None:
    engine, origin = engine_for(grid)
    _, before = engine.eta_to_hospitals(*origin)
    expires = datetime.now(UTC) + timedelta(seconds=0.3)
    engine.add_closure(close_edges(grid, route_edges(engine, origin), expires_at=expires))
    _, during = engine.eta_to_hospitals(*origin)
    assert during[0] > before[0]
    time.sleep(0.4)
    _, after = engine.eta_to_hospitals(*origin)  # no explicit call: the query sees the expiry
    assert after[0] == pytest.approx(before[0], abs=0.01)
