"""Times from many units to one incident equal an independent networkx computation."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from routing.engine import TravelTimeEngine
from routing.fleet import times_to_incident
from routing.synthetic import synthetic_grid


def snapped_graph(graph, segments, weights, snaps):
    """networkx digraph with a virtual node per snap, split by the same partial-edge rule."""
    g = nx.DiGraph()
    for e in range(graph.n_edges):
        s, t, w = int(graph.edge_source[e]), int(graph.edge_target[e]), float(weights.edge_time[e])
        if math.isfinite(w) and (not g.has_edge(s, t) or g[s][t]["weight"] > w):
            g.add_edge(s, t, weight=w)
    for name, snap in snaps.items():
        seg, f = snap.segment, snap.segment_fraction
        u, v = int(segments.u[seg]), int(segments.v[seg])
        fwd, bwd = float(weights.seg_fwd[seg]), float(weights.seg_bwd[seg])
        if math.isfinite(fwd):
            g.add_edge(u, name, weight=fwd * f)
            g.add_edge(name, v, weight=fwd * (1 - f))
        if math.isfinite(bwd):
            g.add_edge(v, name, weight=bwd * (1 - f))
            g.add_edge(name, u, weight=bwd * f)
    return g


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unit_times_match_networkx(seed):
    graph = synthetic_grid(25, seed=seed, oneway_fraction=0.3)
    engine = TravelTimeEngine(graph, [], auto_refresh=False)
    rng = np.random.default_rng(seed)
    lat0, lat1 = graph.node_lat.min(), graph.node_lat.max()
    lng0, lng1 = graph.node_lon.min(), graph.node_lon.max()
    incident = (rng.uniform(lat0, lat1), rng.uniform(lng0, lng1))
    origins = [(rng.uniform(lat0, lat1), rng.uniform(lng0, lng1)) for _ in range(15)]
    target, eta, snaps = times_to_incident(engine, *incident, origins)
    weights = engine.current_weights
    for i, snap in enumerate(snaps):
        if snap.segment == target.segment:
            continue  # the direct same-segment drive is covered by the next test
        g = snapped_graph(graph, engine.segments, weights, {"incident": target, "unit": snap})
        try:
            expected = nx.dijkstra_path_length(g, "unit", "incident")
        except nx.NetworkXNoPath:
            expected = math.inf
        assert eta[i] == pytest.approx(expected, abs=0.1)


def test_unit_on_the_incident_segment_drives_straight_there():
    graph = synthetic_grid(6, seed=4, oneway_fraction=0.0)
    engine = TravelTimeEngine(graph, [], auto_refresh=False)
    e = 0
    s, t = int(graph.edge_source[e]), int(graph.edge_target[e])
    a = (graph.node_lat[s], graph.node_lon[s])
    b = (graph.node_lat[t], graph.node_lon[t])
    incident = (a[0] + 0.75 * (b[0] - a[0]), a[1] + 0.75 * (b[1] - a[1]))
    unit = (a[0] + 0.25 * (b[0] - a[0]), a[1] + 0.25 * (b[1] - a[1]))
    _, eta, _ = times_to_incident(engine, *incident, [unit])
    assert eta[0] == pytest.approx(0.5 * graph.edge_travel_time_s[e], rel=0.02)


def test_no_origins_and_unreachable_are_inf():
    graph = synthetic_grid(6, seed=5, oneway_fraction=0.0)
    engine = TravelTimeEngine(graph, [], auto_refresh=False)
    _, eta, _ = times_to_incident(engine, graph.node_lat[0], graph.node_lon[0], [])
    assert eta.shape == (0,)
    far = (graph.node_lat[-1], graph.node_lon[-1])
    _, eta, _ = times_to_incident(engine, graph.node_lat[0], graph.node_lon[0], [far], limit_s=1.0)
    assert eta[0] == np.inf
