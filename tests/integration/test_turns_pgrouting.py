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

from routing.osm_import import build_graph
from routing.turn_engine import TurnTravelTimes
from tests.unit.osm_fixtures import position
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
