"""Turn-aware ETAs equal pgRouting's Dijkstra on the same line graph (turns and restrictions)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa

from routing.engine import TravelTimeEngine
from routing.graph import RoadGraph
from routing.osm_import import build_graph
from routing.turn_engine import TurnTravelTimes
from routing.turns import build_turn_graph
from tests.support.osm_fixtures import OsmFixture, position
from tests.unit.test_routing_osm_import import HELSINKI
from tests.unit.test_routing_turns import crossroads, restrict

ADMIN_URL = os.environ.get(
    "LIFELINE_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="module")
def pgrouting() -> Iterator[sa.Engine]:
    """A throwaway database with pgRouting."""
    name = f"lifeline_turns_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(f"{url}/{name}")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION pgrouting CASCADE"))
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pgrouting_etas(
    db: sa.Engine, engine: TurnTravelTimes, points: list[tuple[float, float]], table: str
) -> list[np.ndarray]:
    """pgr_dijkstraCost from a virtual incident state to virtual hospital states."""
    turns = engine.turns
    cost = turns.arc_cost(engine.weights.edge_time)
    n, n_h = turns.n_states, len(engine.hospital_keys)
    state, hospital, entry = engine.hospital_arcs()
    with db.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(
            sa.text(f"CREATE TABLE {table} (id bigint, source bigint, target bigint, cost float8)")
        )
        rows = [
            {"id": i + 1, "s": a, "t": b, "c": c}
            for i, (a, b, c) in enumerate(
                zip(
                    np.concatenate([turns.arc_from, state]).tolist(),
                    np.concatenate([turns.arc_to, n + hospital]).tolist(),
                    np.concatenate([cost, entry]).tolist(),
                    strict=True,
                )
            )
        ]
        conn.execute(sa.text(f"INSERT INTO {table} VALUES (:id, :s, :t, :c)"), rows)
    results = []
    for lat, lng in points:
        snap = engine.snapper.snap(lat, lng)
        incident = n + n_h
        values = ", ".join(
            f"({-(i + 1)}, {incident}, {s}, {c!r})" for i, (s, c) in enumerate(engine._exits(snap))
        )
        sql = (
            f"SELECT id, source, target, cost FROM {table} UNION ALL "
            f"SELECT * FROM (VALUES {values}) AS v(id, source, target, cost)"
        )
        with db.connect() as conn:
            found = conn.execute(
                sa.text(
                    "SELECT end_vid, agg_cost FROM pgr_dijkstraCost(:edges, CAST(:s AS bigint),"
                    " CAST(:t AS bigint[]), directed => true)"
                ),
                {"edges": sql, "s": incident, "t": [n + h for h in range(n_h)]},
            ).all()
        eta = np.full(n_h, np.inf)
        for end, agg in found:
            eta[int(end) - n] = agg
        same = [h for h, _ in engine.on_segment.get(snap.segment, [])]
        eta[same] = np.nan  # the direct drive along a shared segment is ours only
        results.append(eta)
    return results


def assert_agree(ours: np.ndarray, theirs: np.ndarray, horizon: float) -> None:
    keep = ~np.isnan(theirs)
    theirs = np.where(theirs > horizon, np.inf, theirs)
    assert np.array_equal(np.isinf(ours[keep]), np.isinf(theirs[keep]))
    finite = keep & np.isfinite(ours)
    assert np.max(np.abs(ours[finite] - theirs[finite]), initial=0.0) < 0.1


def test_helsinki_turn_etas_equal_pgrouting_on_the_line_graph(pgrouting: sa.Engine) -> None:
    graph = build_graph(HELSINKI)
    rng = np.random.default_rng(3)
    picks = rng.integers(0, graph.n_nodes, 10)
    hospitals = [
        (i, float(graph.node_lat[n]), float(graph.node_lon[n])) for i, n in enumerate(picks)
    ]
    engine = TurnTravelTimes(graph, hospitals)
    engine.precompute()
    points = [
        (float(graph.node_lat[n]) + 1e-4, float(graph.node_lon[n]))
        for n in rng.integers(0, graph.n_nodes, 8)
    ]
    for (lat, lng), theirs in zip(
        points, pgrouting_etas(pgrouting, engine, points, "helsinki_turns"), strict=True
    ):
        assert_agree(engine.eta_to_hospitals(lat, lng)[1], theirs, engine.max_eta_s)


def test_restricted_crossroads_equal_pgrouting(pgrouting: sa.Engine, tmp_path: Path) -> None:
    fx = crossroads()
    restrict(fx, "no_left_turn", "south", "J", "west")
    restrict(fx, "only_straight_on", "east", "J", "west")
    graph = build_graph(fx.write(tmp_path / "crossroads.osm.pbf"))
    hospitals = [
        (name, *position(*xy))
        for name, xy in {"w": (-150, 0), "e": (150, 0), "n": (0, 150)}.items()
    ]
    engine = TurnTravelTimes(graph, hospitals)
    engine.precompute()
    points = [position(0, -150), position(150, 10), position(-10, 120)]
    for (lat, lng), theirs in zip(
        points, pgrouting_etas(pgrouting, engine, points, "cross_turns"), strict=True
    ):
        assert_agree(engine.eta_to_hospitals(lat, lng)[1], theirs, engine.max_eta_s)


def trsp_restrictions(
    graph: RoadGraph, fx: OsmFixture, rules: list[tuple[str, str, str, str]]
) -> list[list[int]]:
    """Banned edge pairs, read from the OSM rules here rather than from routing.turns.

    ``rules``: (restriction, from way, via node, to way). U-turns are banned except where the
    road ends (our rule without turn costs). Pairs are of edge indices.
    """
    src, tgt, way = graph.edge_source, graph.edge_target, graph.edge_osm_way_id
    banned: list[list[int]] = []
    for kind, frm, via, to in rules:
        j = int(np.flatnonzero(graph.node_osm_id == fx.node_id(via))[0])
        into = np.flatnonzero((way == fx.way_id(frm)) & (tgt == j))
        out = np.flatnonzero(src == j)
        onto = out[way[out] == fx.way_id(to)]
        for a in into.tolist():
            for b in out.tolist():
                if (b in onto) != kind.startswith("only_"):
                    banned.append([a, b])
    for a in range(graph.n_edges):
        v = tgt[a]
        leaving = np.flatnonzero(src == v)
        back = leaving[tgt[leaving] == src[a]]
        if len(back) and len(leaving) > len(back):  # not a dead end: no U-turn
            banned.extend([a, int(b)] for b in back)
    return banned


def test_restricted_crossroads_equal_pgr_trsp(pgrouting: sa.Engine, tmp_path: Path) -> None:
    """pgRouting's own turn-restricted Dijkstra (pgr_trsp) on the node graph, given the OSM
    restrictions as forbidden edge pairs, agrees with our expansion (turn costs off: pgr_trsp
    has none)."""
    fx = crossroads()
    rules = [("no_left_turn", "south", "J", "west"), ("only_straight_on", "east", "J", "west")]
    for rule in rules:
        restrict(fx, *rule)
    graph = build_graph(fx.write(tmp_path / "trsp.osm.pbf"))
    hospitals = [
        (name, *position(*xy))
        for name, xy in {"w": (-150, 0), "e": (150, 0), "n": (0, 150), "s": (-20, -200)}.items()
    ]
    engine = TurnTravelTimes(graph, hospitals, turns=build_turn_graph(graph, turn_costs=False))
    engine.precompute()
    banned = trsp_restrictions(graph, fx, rules)
    time_s = graph.edge_travel_time_s
    n_nodes, n_h = graph.n_nodes, len(hospitals)
    incident, first_hospital = n_nodes + 1000, n_nodes + 2000
    # hospital entries: a virtual edge per way in, continuing the real edge it is part of
    entries = []  # (virtual id, real edge, source node, hospital node, cost)
    for h, (seg, g) in enumerate(
        zip(engine.hospitals.segment, engine.hospitals.fraction, strict=True)
    ):
        for edge, share in ((engine.segments.forward_edge[seg], g),
                            (engine.segments.backward_edge[seg], 1 - g)):  # fmt: skip
            if edge >= 0:
                entries.append((200_000 + len(entries), int(edge), int(graph.edge_source[edge]),
                                first_hospital + h, float(share * time_s[edge])))  # fmt: skip
    plain = TravelTimeEngine(graph, hospitals, auto_refresh=False, snapper=engine.snapper)
    plain.precompute()
    compared = detours = 0
    for lat, lng in [position(0, -150), position(150, 10), position(-10, 120), position(-200, 90)]:
        snap = engine.snapper.snap(lat, lng)
        exits = [(100_000 + int(engine.turns.state_edge[s]), int(engine.turns.state_edge[s]), c)
                 for s, c in engine._exits(snap)]  # fmt: skip
        edges = [(e + 1, int(graph.edge_source[e]), int(graph.edge_target[e]), float(time_s[e]))
                 for e in range(graph.n_edges)]  # fmt: skip
        edges += [(v, incident, int(graph.edge_target[e]), c) for v, e, c in exits]
        edges += [(v, s, hnode, c) for v, _, s, hnode, c in entries]
        # a virtual edge carries the restrictions of the real edge it stands for
        as_id = {e: [e + 1] for e in range(graph.n_edges)}
        for v, e, _ in exits:
            as_id[e] = [*as_id[e], v]
        entry_ids: dict[int, list[int]] = {}
        for v, e, *_ in entries:
            entry_ids.setdefault(e, []).append(v)
        paths = {
            (x, y) for a, b in banned for x in as_id[a] for y in [b + 1, *entry_ids.get(b, [])]
        }
        values = ", ".join(f"({i}, {s}, {t}, {c!r})" for i, s, t, c in edges)
        restrictions = ", ".join(
            f"({i + 1}, 1e6, ARRAY[{x}, {y}])" for i, (x, y) in enumerate(sorted(paths))
        )
        with pgrouting.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT end_vid, max(agg_cost) FROM pgr_trsp(:edges, :restrictions,"
                    " CAST(:s AS bigint), CAST(:t AS bigint[]), directed => true)"
                    " WHERE edge = -1 GROUP BY end_vid"
                ),
                {
                    "edges": f"SELECT * FROM (VALUES {values}) AS e(id, source, target, cost)",
                    "restrictions": f"SELECT * FROM (VALUES {restrictions}) AS r(id, cost, path)",
                    "s": incident,
                    "t": [first_hospital + h for h in range(n_h)],
                },
            ).all()
        theirs = np.full(n_h, np.inf)
        for end, cost in rows:
            theirs[int(end) - first_hospital] = cost
        same = [h for h, _ in engine.on_segment.get(snap.segment, [])]
        theirs[same] = np.nan  # the direct drive along a shared segment is ours only
        ours = engine.eta_to_hospitals(lat, lng)[1]
        assert_agree(ours, theirs, engine.max_eta_s)
        compared += int(np.count_nonzero(np.isfinite(theirs)))
        detours += int(np.count_nonzero(theirs > plain.eta_to_hospitals(lat, lng)[1] + 1))
    assert compared >= 12 and detours >= 1  # restrictions bit: some ETAs exceed the node graph's
