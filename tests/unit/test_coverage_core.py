"""Coverage core: demand grid, coverage measure, road reach (vs networkx), MEXCLP and policy."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest

from fleet_coverage.grid import build_demand_grid
from fleet_coverage.measure import measure
from fleet_coverage.mexclp import FreeUnit, Limits, expected_coverage, plan_moves
from fleet_coverage.policy import DispatchOption, suggest
from fleet_coverage.reach import Reach
from routing import TravelTimeEngine, synthetic_grid

# ---------------------------------------------------------------- demand grid


def _square_nodes(n: int = 20, spacing_deg: float = 0.001):
    lat, lng = np.meshgrid(33.7 + np.arange(n) * spacing_deg, 73.0 + np.arange(n) * spacing_deg)
    return lat.ravel(), lng.ravel()


def test_grid_without_cases_follows_road_density_and_sums_to_one():
    lat, lng = _square_nodes()
    grid = build_demand_grid(lat, lng, cell_size_m=250)
    assert math.isclose(grid.weight.sum(), 1.0)
    assert grid.case_count == 0
    assert (grid.weight > 0).all()
    # road metres decide the prior: one 1 km edge leaves node 0, every other edge is 1 m
    source = np.arange(len(lat))
    length = np.ones(len(lat))
    length[0] = 1000.0
    weighted = build_demand_grid(lat, lng, edge_source=source, edge_length_m=length)
    heaviest = int(np.argmax(weighted.weight))
    assert (weighted.ix[heaviest], weighted.iy[heaviest]) == (0, 0)  # node 0's cell
    assert weighted.weight[heaviest] > 1000.0 / length.sum()  # its kilometre and a few metres


def test_cases_pull_demand_but_road_floor_keeps_every_cell_positive():
    lat, lng = _square_nodes()
    hot_lat, hot_lng = np.full(50, 33.7005), np.full(50, 73.0005)
    grid = build_demand_grid(
        lat, lng, case_lat=hot_lat, case_lng=hot_lng, cell_size_m=250, bandwidth_m=250,
        prior_share=0.2,
    )
    road = build_demand_grid(lat, lng, cell_size_m=250)
    assert grid.case_count == 50
    hot = int(np.argmax(grid.weight))
    assert grid.ix[hot] == 0 and grid.iy[hot] == 0  # the cell of the calls
    assert (grid.weight >= 0.2 * road.weight - 1e-12).all()  # the documented floor
    assert math.isclose(grid.weight.sum(), 1.0)


def test_grid_is_reproducible_and_rejects_bad_parameters():
    lat, lng = _square_nodes()
    a = build_demand_grid(lat, lng, case_lat=lat[:10], case_lng=lng[:10])
    b = build_demand_grid(lat, lng, case_lat=lat[:10], case_lng=lng[:10])
    assert a.to_json() == b.to_json()
    with pytest.raises(ValueError):
        build_demand_grid(lat, lng, prior_share=1.5)
    with pytest.raises(ValueError):
        build_demand_grid(lat, lng, cell_size_m=0)


def test_cell_polygons_are_closed_squares_of_the_cell_size():
    lat, lng = _square_nodes()
    grid = build_demand_grid(lat, lng, cell_size_m=250)
    ring = grid.polygons([0])[0]
    assert ring[0] == ring[-1] and len(ring) == 5
    from routing.graph import haversine_m

    side = haversine_m(ring[0][1], ring[0][0], ring[1][1], ring[1][0])
    assert abs(side - 250) < 2


# ---------------------------------------------------------------- measure


def test_measure_shares_marginals_and_als():
    times = np.array([[100, 100, 900, np.inf], [100, 900, 900, 100]], dtype=np.float32)
    weight = np.array([0.1, 0.2, 0.3, 0.4])
    result = measure(times, weight, 480, is_als=np.array([True, False]))
    assert math.isclose(result.share_any, 0.7)
    assert math.isclose(result.share_als, 0.3)
    assert result.uncovered.tolist() == [2]
    # unit 0 alone covers cell 1 (0.2); unit 1 alone covers cell 3 (0.4); cell 0 is shared
    assert np.allclose(result.marginal, [0.2, 0.4])
    assert result.covering.tolist() == [2, 1, 0, 1]


def test_measure_with_no_units_covers_nothing():
    result = measure(np.zeros((0, 3)), np.array([0.5, 0.25, 0.25]), 480)
    assert result.share_any == 0.0 and result.uncovered.tolist() == [0, 1, 2]


# ---------------------------------------------------------------- reach vs an independent router


def test_reach_matches_networkx_from_a_snapped_position():
    graph = synthetic_grid(12, seed=3)
    engine = TravelTimeEngine(graph, [], auto_refresh=False)
    targets = np.arange(graph.n_nodes, dtype=np.int64)
    reach = Reach(engine, targets, limit_s=1e6)
    g = nx.DiGraph()
    w = engine.current_weights
    for s, t, tt in zip(graph.edge_source, graph.edge_target, w.edge_time, strict=True):
        if not g.has_edge(int(s), int(t)) or g[int(s)][int(t)]["w"] > tt:
            g.add_edge(int(s), int(t), w=float(tt))
    lat = float(graph.node_lat.mean()) + 0.0002
    lng = float(graph.node_lon.mean()) + 0.0001
    snap, times = reach.from_point(lat, lng)
    g.add_node("src")
    for node, seconds in reach.exits(snap):
        g.add_edge("src", node, w=seconds)
    expected = nx.single_source_dijkstra_path_length(g, "src", weight="w")
    for node in range(graph.n_nodes):
        assert times[node] == pytest.approx(expected[node], abs=2e-3)
    # a second ask is answered from the cache, no new search
    before = reach.searches
    reach.from_point(lat, lng)
    assert reach.searches == before


def test_reach_honours_closures_via_the_engine_weights():
    from datetime import UTC, datetime, timedelta

    from shapely.geometry import box

    from routing import close_area

    graph = synthetic_grid(10, seed=1)
    engine = TravelTimeEngine(graph, [], auto_refresh=False)
    reach = Reach(engine, np.arange(graph.n_nodes, dtype=np.int64), limit_s=1e6)
    lat, lng = float(graph.node_lat[0]), float(graph.node_lon[0])
    _, open_times = reach.from_point(lat, lng)
    now = datetime.now(UTC)
    x, y = float(graph.node_lon.mean()), float(graph.node_lat.mean())
    area = box(x - 0.002, y - 0.002, x + 0.002, y + 0.002)
    engine.add_closure(
        close_area(graph, area, expires_at=now + timedelta(hours=1), closure_id="c1"), now=now
    )
    _, closed_times = reach.from_point(lat, lng)
    assert (closed_times >= open_times - 1e-3).all()
    assert (closed_times > open_times + 1e-3).any()


# ---------------------------------------------------------------- MEXCLP


def _brute_force(reach, weight, units, n_posts, stations, limits):
    """Every placement of every unit, checked against the limits: the exact optimum."""
    options = []
    for u in units:
        opts = [u.site] + [p for p in range(n_posts)
                           if p != u.site and u.drive_s[p] <= limits.max_drive_s]
        options.append(opts)
    best = -1.0
    for choice in itertools.product(*options):
        moves = sum(1 for u, s in zip(units, choice, strict=True) if s != u.site)
        if moves > limits.max_moves:
            continue
        if any(
            any(u.site == st for u in units) and not any(s == st for s in choice)
            for st in stations
        ):
            continue
        best = max(best, expected_coverage(reach, weight, list(choice), limits.busy_fraction))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_mexclp_finds_the_brute_force_optimum(seed):
    rng = np.random.default_rng(seed)
    n_posts, n_extra, n_cells = 4, 2, 30
    reach = rng.random((n_posts + n_extra, n_cells)) < 0.3
    weight = rng.random(n_cells)
    weight /= weight.sum()
    units = [
        FreeUnit("a", 0, rng.random(n_posts) * 1200),
        FreeUnit("b", 0, rng.random(n_posts) * 1200),
        FreeUnit("c", n_posts, rng.random(n_posts) * 1200),
        FreeUnit("d", n_posts + 1, rng.random(n_posts) * 1200),
    ]
    limits = Limits(max_moves=2, max_drive_s=900, busy_fraction=0.3, min_gain=0.0)
    plan = plan_moves(reach, weight, units, n_posts, stations=[0], limits=limits)
    assert plan.status == "Optimal"
    assert plan.expected_after == pytest.approx(
        _brute_force(reach, weight, units, n_posts, [0], limits), abs=1e-6
    )
    assert len(plan.moves) <= 2
    assert all(m.drive_s <= 900 for m in plan.moves)
    assert any(plan.placement[u.key] == 0 for u in units)  # station 0 keeps a unit


def test_mexclp_never_strips_a_station_and_respects_zero_moves():
    # Two units at station 0 cover nothing there; a post 1 covers everything.
    reach = np.array([[False, False], [True, True]])
    weight = np.array([0.5, 0.5])
    units = [FreeUnit("a", 0, np.array([0.0, 60.0])), FreeUnit("b", 0, np.array([0.0, 60.0]))]
    plan = plan_moves(reach, weight, units, 2, stations=[0],
                      limits=Limits(max_moves=5, min_gain=0.0))
    assert len(plan.moves) == 1 and plan.moves[0].to_post == 1
    none = plan_moves(reach, weight, units, 2, stations=[0],
                      limits=Limits(max_moves=0, min_gain=0.0))
    assert none.moves == []
    far = plan_moves(reach, weight, units[:1], 2, stations=[],
                     limits=Limits(max_moves=1, max_drive_s=30, min_gain=0.0))
    assert far.moves == []  # the post is a 60 s drive, the limit 30 s


def test_mexclp_proposes_nothing_below_the_minimum_gain():
    reach = np.array([[True, False], [True, True]])
    weight = np.array([0.999, 0.001])
    units = [FreeUnit("a", 0, np.array([0.0, 60.0]))]
    plan = plan_moves(reach, weight, units, 2, limits=Limits(min_gain=0.01))
    assert plan.moves == [] and plan.expected_after == plan.expected_before


# ---------------------------------------------------------------- policy


def test_policy_never_trades_time_for_acute_or_untriaged_cases():
    options = [DispatchOption("fast", 300, 10.0), DispatchOption("slow", 330, 0.5)]
    for severity in ("critical", "high", None):
        assert suggest(options, severity, max_extra_s=60, min_saving_pp=2).unit_id == "fast"


def test_policy_prefers_a_slightly_slower_unit_for_low_acuity_only_when_it_saves_coverage():
    options = [DispatchOption("fast", 300, 10.0), DispatchOption("slow", 330, 0.5),
               DispatchOption("far", 500, 0.0)]
    s = suggest(options, "low", max_extra_s=60, min_saving_pp=2)
    assert s.unit_id == "slow" and s.extra_seconds == 30 and s.saving_pp == pytest.approx(9.5)
    small = [DispatchOption("fast", 300, 1.0), DispatchOption("slow", 330, 0.5)]
    assert suggest(small, "medium", max_extra_s=60, min_saving_pp=2).unit_id == "fast"
    assert suggest([], "low", max_extra_s=60, min_saving_pp=2).unit_id is None


# ---------------------------------------------------------------- proposals a crew can accept


def test_a_unit_on_its_way_to_a_post_is_not_proposed_to_it_again():
    """Found by random order: a fresh GPS fix on the way placed the unit short of its post, the
    planner proposed the same move again and accepting it was refused (409 move_up_pending)."""
    import uuid
    from dataclasses import replace

    import shapely
    from shapely.prepared import prep

    from dispatch.destinations import RegionNetwork
    from fleet_coverage.figures import propose_moves
    from fleet_coverage.service import FleetUnit, Post, RegionState, grid_for
    from fleet_coverage.settings import CoverageSettings

    graph = synthetic_grid(24, seed=5)
    engine = TravelTimeEngine(graph, [], auto_refresh=False)
    lat, lng = graph.node_lat, graph.node_lon
    area = shapely.box(lng.min() - 0.01, lat.min() - 0.01, lng.max() + 0.01, lat.max() + 0.01)
    network = RegionNetwork("synthetic", area, prep(area), engine, {})
    settings = CoverageSettings(min_gain_pp=0.0)
    state = RegionState(network, grid_for(network, None, settings))
    south = (float(lat.min()), float(lng.min()))  # two units share a station in one corner
    north = (float(lat.max()), float(lng.max()))  # a standby point in the opposite one
    posts = [Post(uuid.uuid4(), "Station", "station", *south),
             Post(uuid.uuid4(), "North", "standby", *north)]
    units = [FleetUnit(uuid.uuid4(), f"A{i}", "ALS", *south, "station") for i in range(2)]
    first = propose_moves(state, units, posts, settings, minutes=2)["proposals"]
    assert [p["post_name"] for p in first] == ["North"]
    # Accepted; the crew's first fix still places the unit at the station.
    units = [replace(u, heading_to=north) if str(u.id) == first[0]["unit_id"] else u
             for u in units]
    again = propose_moves(state, units, posts, settings, minutes=2)["proposals"]
    assert again == []
