"""Our travel times equal pgRouting's on the same stored edges, and the road tables round-trip."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from scipy.sparse.csgraph import dijkstra
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from data.base import Base
from routing import store
from routing.closures import close_edges
from routing.engine import TravelTimeEngine
from routing.graph import RoadGraph
from routing.models import ROUTING_TABLES, RoadClosure, RoadEdge
from tests.unit.test_routing_engine import hospitals_for, random_points
from tests.unit.test_routing_osm_import import helsinki

ADMIN_URL = os.environ.get(
    "LIFELINE_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REGION = "helsinki"


def _url(name: str) -> str:
    return (
        ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        + "/"
        + name
    )


@pytest.fixture(scope="module")
def database() -> Iterator[sa.Engine]:
    """A throwaway PostGIS + pgRouting database holding only the routing tables."""
    name = f"lifeline_routing_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = sa.create_engine(_url(name))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION postgis; CREATE EXTENSION pgrouting"))
            Base.metadata.create_all(conn, tables=ROUTING_TABLES)
        with Session(engine) as session, session.begin():
            store.write_region(session, REGION, helsinki())
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def node_id_base(session: Session) -> int:
    return int(
        session.scalar(sa.text("SELECT min(id) FROM road_nodes WHERE region = :r"), {"r": REGION})
    )


EDGES_SQL = (
    "SELECT id, source, target, travel_time_s AS cost FROM road_edges WHERE region = 'helsinki'"
)


def test_node_to_node_times_equal_pgr_dijkstra_cost(database: sa.Engine) -> None:
    graph = helsinki()
    rng = np.random.default_rng(17)
    with Session(database) as session:
        base = node_id_base(session)
        for source in rng.choice(graph.n_nodes, 8, replace=False).tolist():
            targets = rng.choice(graph.n_nodes, 60, replace=False)
            rows = session.execute(
                sa.text(
                    "SELECT end_vid, agg_cost FROM pgr_dijkstraCost("
                    ":edges, CAST(:s AS bigint), CAST(:t AS bigint[]), directed => true)"
                ),
                {"edges": EDGES_SQL, "s": base + source, "t": (targets + base).tolist()},
            ).all()
            ours = dijkstra(graph.adjacency, indices=source)
            got = {int(end) - base: cost for end, cost in rows}
            assert len(got) == len(set(targets.tolist()) - {source})
            for target, cost in got.items():
                assert ours[target] == pytest.approx(cost, abs=0.1)


def test_incident_to_hospital_etas_equal_pgrouting_with_virtual_nodes(database: sa.Engine) -> None:
    """Same convention in SQL: incident and hospitals join their segments with partial costs."""
    graph = helsinki()
    hospitals = hospitals_for(graph, 6, seed=31)
    engine = TravelTimeEngine(graph, hospitals, auto_refresh=False)
    engine.precompute()
    with Session(database) as session:
        base = node_id_base(session)
        virtual = 10**12
        for lat, lng in random_points(graph, 10, seed=32):
            snap, eta = engine.eta_to_hospitals(lat, lng)
            exits, entries = engine.access_edges(snap)
            extra = [(virtual, base + node, cost) for node, cost in exits]
            extra += [(base + node, virtual + 1 + h, cost) for h, node, cost in entries]
            values = ", ".join(
                f"({-(i + 1)}, {a}, {b}, {float(c)!r})" for i, (a, b, c) in enumerate(extra)
            )
            edges_sql = (
                f"{EDGES_SQL} UNION ALL SELECT * FROM (VALUES {values})"
                " AS v(id, source, target, cost)"
            )
            rows = session.execute(
                sa.text(
                    "SELECT end_vid, agg_cost FROM pgr_dijkstraCost("
                    ":edges, CAST(:s AS bigint), CAST(:t AS bigint[]), directed => true)"
                ),
                {
                    "edges": edges_sql,
                    "s": virtual,
                    "t": [virtual + 1 + h for h in range(len(hospitals))],
                },
            ).all()
            pg = np.full(len(hospitals), np.inf)
            for end, cost in rows:
                pg[int(end) - virtual - 1] = cost
            # the direct drive along a shared segment is not modelled in SQL
            same = [h for h, hs in enumerate(engine.hospital_snaps) if hs.segment == snap.segment]
            check = [h for h in range(len(hospitals)) if h not in same]
            np.testing.assert_allclose(eta[check], pg[check], atol=0.1)


def test_store_round_trip_and_cache(database: sa.Engine, tmp_path: Path) -> None:
    graph = helsinki()
    with Session(database) as session:
        loaded = store.load_region(session, REGION, prefer_cache=False)
    assert loaded.n_nodes == graph.n_nodes and loaded.n_edges == graph.n_edges
    np.testing.assert_array_equal(loaded.edge_source, graph.edge_source)
    np.testing.assert_allclose(loaded.edge_travel_time_s, graph.edge_travel_time_s)
    np.testing.assert_allclose(loaded.geometry_coords, graph.geometry_coords)
    assert (loaded.adjacency != graph.adjacency).nnz == 0
    cache = graph.save(tmp_path / "helsinki.npz")
    with Session(database) as session, session.begin():
        region = store.write_region(session, "helsinki-cached", graph, cache_path=cache)
        assert region.node_count == graph.n_nodes
        area = session.scalar(
            sa.text("SELECT ST_Area(area) FROM regions WHERE name = 'helsinki-cached'")
        )
        assert area > 0
    with Session(database) as session:
        assert isinstance(store.load_region(session, "helsinki-cached"), RoadGraph)
        count = session.scalar(
            sa.text("SELECT count(*) FROM road_edges WHERE region = 'helsinki-cached'")
        )
        assert count == graph.n_edges
    # Re-importing replaces rows rather than duplicating them.
    with Session(database) as session, session.begin():
        store.write_region(session, "helsinki-cached", graph)
    with Session(database) as session:
        count = session.scalar(
            sa.text("SELECT count(*) FROM road_edges WHERE region = 'helsinki-cached'")
        )
        assert count == graph.n_edges
    with Session(database) as session:  # the import dropped and restored its foreign keys
        names = set(
            session.scalars(
                sa.text(
                    "SELECT conname FROM pg_constraint WHERE contype = 'f'"
                    " AND conrelid IN ('road_edges'::regclass, 'road_nodes'::regclass)"
                )
            )
        )
    assert names == {
        "fk_road_edges_region_regions",
        "fk_road_edges_source_road_nodes",
        "fk_road_edges_target_road_nodes",
        "fk_road_nodes_region_regions",
    }
    ddl = str(CreateTable(RoadEdge.__table__).compile(dialect=postgresql.dialect()))
    assert ddl.count("FOREIGN KEY") == 3  # models left intact for later create_all calls
    with pytest.raises(store.UnknownRegionError), Session(database) as session:
        store.load_region(session, "atlantis")


def test_import_writes_the_cache_that_keeps_what_the_tables_do_not(
    database: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """write_region writes the graph cache it records: a reloaded region keeps its turn
    restrictions, road classes, junction controls and country; without the cache it says so."""
    graph = helsinki()
    assert graph.restrictions and graph.edge_class.any()  # 45 restrictions in the extract
    cache = tmp_path / "regions" / "helsinki-restricted.npz"
    cache.parent.mkdir()
    with Session(database) as session, session.begin():
        store.write_region(session, "helsinki-restricted", graph, cache_path=cache)
    assert cache.is_file()
    with Session(database) as session:
        loaded = store.load_region(session, "helsinki-restricted")
    assert loaded.restrictions == graph.restrictions and loaded.country == graph.country
    np.testing.assert_array_equal(loaded.edge_class, graph.edge_class)
    np.testing.assert_array_equal(loaded.node_kind, graph.node_kind)
    cache.unlink()
    with Session(database) as session, caplog.at_level("WARNING", logger="routing.store"):
        bare = store.load_region(session, "helsinki-restricted")
    assert not bare.restrictions and "no graph cache" in caplog.text


def test_closures_persist_and_reload(database: sa.Engine) -> None:
    graph = helsinki()
    now = datetime.now(UTC)
    closure = close_edges(graph, [10, 20], expires_at=now + timedelta(hours=1), reason="crash")
    with Session(database) as session, session.begin():
        row = store.save_closure(
            session, region=REGION, closure=closure, graph=graph, created_by="op1"
        )
        assert isinstance(row, RoadClosure)
    with Session(database) as session:
        active = store.active_closures(session, region=REGION, graph=graph, now=now)
        assert len(active) == 1
        assert set(closure.edges.tolist()) <= set(active[0].edges.tolist())
        assert (
            store.active_closures(session, region=REGION, graph=graph, now=now + timedelta(hours=2))
            == []
        )
    with Session(database) as session, session.begin():
        assert store.lift_closure(session, closure_id=uuid.UUID(closure.closure_id))
    with Session(database) as session:
        assert store.active_closures(session, region=REGION, graph=graph, now=now) == []


def test_migration_is_reversible_and_matches_the_models() -> None:
    import importlib.util

    path = Path(__file__).parents[2] / "data/migrations/versions/2026_11_23_0002_road_network.py"
    spec = importlib.util.spec_from_file_location("road_network_migration", path)
    assert spec and spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.revision == "0002_road_network" and migration.down_revision == "0001_initial"
    name = f"lifeline_routing_mig_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = sa.create_engine(_url(name))
    try:
        with engine.begin() as conn:
            ops = Operations(MigrationContext.configure(conn))
            with Operations.context(ops.migration_context):
                migration.upgrade()
        with engine.connect() as conn:
            from alembic.autogenerate import compare_metadata

            metadata = sa.MetaData(naming_convention=Base.metadata.naming_convention)
            for table in ROUTING_TABLES:
                table.to_metadata(metadata)
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_name": lambda n, t, p: (
                        t != "table" or n in {x.name for x in ROUTING_TABLES}
                    )
                },
            )
            diff = compare_metadata(context, metadata)
            assert diff == [], diff
            extensions = set(conn.scalars(sa.text("SELECT extname FROM pg_extension")))
            assert "pgrouting" in extensions
        with engine.begin() as conn:
            ops = Operations(MigrationContext.configure(conn))
            with Operations.context(ops.migration_context):
                migration.downgrade()
        with engine.connect() as conn:
            remaining = set(sa.inspect(conn).get_table_names())
            assert not remaining & {t.name for t in ROUTING_TABLES}
    finally:
        engine.dispose()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
