"""Graphs for tests and benchmarks: a road-like synthetic grid, and networkx as a reference."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing.graph import (
    EARTH_RADIUS_M,
    ROAD_CLASSES,
    FloatArray,
    RoadGraph,
    haversine_m,
    straight_geometry,
)


def synthetic_grid(
    n_side: int,
    *,
    seed: int = 0,
    oneway_fraction: float = 0.2,
    spacing_m: float = 100.0,
    center: tuple[float, float] = (33.69, 73.05),
    name: str | None = None,
) -> RoadGraph:
    """
    Build a road-like, strongly connected directed grid of ``n_side**2`` nodes.

    Every tenth street and the border streets are two-way arterials (50-70 km/h); the other
    streets are residential (25-40 km/h), and a ``oneway_fraction`` of them are one-way along
    their whole length, alternating direction. Since each one-way street runs from one two-way
    street to another, the grid stays strongly connected. Node positions are jittered by up to
    10% of the spacing and each directed edge gets its own speed (+-15%, traffic), so
    travel times are not symmetric.

    Parameters
    ----------
    n_side : int
        Nodes per side (``n_side >= 2``).
    seed : int
        Random seed; the same seed gives the same graph.
    oneway_fraction : float
        Share of residential streets that are one-way.
    spacing_m : float
        Distance between neighbouring intersections.
    center : tuple of float
        ``(lat, lng)`` of the grid's centre.
    name : str, optional
        Graph name (defaults to ``synthetic-<n_side>``).

    Returns
    -------
    RoadGraph
    """
    if n_side < 2:
        raise ValueError("n_side must be at least 2")
    rng = np.random.default_rng(seed)
    lat0, lng0 = center
    idx = np.arange(n_side * n_side, dtype=np.int64).reshape(n_side, n_side)
    half = (n_side - 1) * spacing_m / 2
    ys, xs = np.meshgrid(
        np.arange(n_side) * spacing_m - half, np.arange(n_side) * spacing_m - half, indexing="ij"
    )
    jitter = rng.uniform(-0.1, 0.1, size=(2, n_side, n_side)) * spacing_m
    lat = lat0 + np.degrees((ys + jitter[0]) / EARTH_RADIUS_M)
    lng = lng0 + np.degrees((xs + jitter[1]) / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))

    def street_kinds(count: int) -> tuple[NDArray[np.bool_], NDArray[np.int8], FloatArray]:
        arterial = np.zeros(count, dtype=bool)
        arterial[::10] = True
        arterial[-1] = True
        oneway = (~arterial) & (rng.random(count) < oneway_fraction)
        direction = np.where(oneway, np.where(np.arange(count) % 2 == 0, 1, -1), 0).astype(np.int8)
        speed = np.where(arterial, rng.uniform(50, 70, count), rng.uniform(25, 40, count))
        return arterial, direction, speed

    _, row_dir, row_speed = street_kinds(n_side)  # rows run west-east
    _, col_dir, col_speed = street_kinds(n_side)  # columns run south-north
    sources, targets, speeds, ways = [], [], [], []
    # Row streets: edge (r, c) -> (r, c + 1) is "forward".
    a, b = idx[:, :-1], idx[:, 1:]
    rows = np.broadcast_to(np.arange(n_side)[:, None], a.shape)
    for fwd, s, t in ((1, a, b), (-1, b, a)):
        ok = (row_dir[rows] == 0) | (row_dir[rows] == fwd)
        sources.append(s[ok])
        targets.append(t[ok])
        speeds.append(row_speed[rows[ok]])
        ways.append(1 + rows[ok])
    a, b = idx[:-1, :], idx[1:, :]
    cols = np.broadcast_to(np.arange(n_side)[None, :], a.shape)
    for fwd, s, t in ((1, a, b), (-1, b, a)):
        ok = (col_dir[cols] == 0) | (col_dir[cols] == fwd)
        sources.append(s[ok])
        targets.append(t[ok])
        speeds.append(col_speed[cols[ok]])
        ways.append(1 + n_side + cols[ok])
    src = np.concatenate(sources).astype(np.int32)
    tgt = np.concatenate(targets).astype(np.int32)
    speed = np.concatenate(speeds) * rng.uniform(0.85, 1.15, len(src))
    flat_lat, flat_lng = lat.ravel(), lng.ravel()
    length = haversine_m(flat_lat[src], flat_lng[src], flat_lat[tgt], flat_lng[tgt])
    coords, offsets = straight_geometry(flat_lng, flat_lat, src, tgt)
    arterial = np.concatenate(speeds) >= 50
    classes = np.where(arterial, ROAD_CLASSES.index("primary"), ROAD_CLASSES.index("residential"))
    return RoadGraph(
        node_osm_id=np.arange(1, n_side * n_side + 1, dtype=np.int64),
        node_lon=flat_lng,
        node_lat=flat_lat,
        edge_source=src,
        edge_target=tgt,
        edge_length_m=length,
        edge_travel_time_s=length * 3.6 / speed,
        edge_osm_way_id=np.concatenate(ways).astype(np.int64),
        geometry_coords=coords,
        geometry_offsets=offsets,
        name=name or f"synthetic-{n_side}",
        edge_class=classes.astype(np.int8),
    )


def to_networkx(graph: RoadGraph) -> Any:  # networkx.DiGraph, imported lazily
    """
    The same directed edges as a networkx ``DiGraph`` weighted by travel time.

    A reference for checking the engine (and for baselines); parallel edges keep the fastest.

    Parameters
    ----------
    graph : RoadGraph

    Returns
    -------
    networkx.DiGraph
    """
    import networkx as nx

    ref = nx.DiGraph()
    for s, t, w in zip(
        graph.edge_source.tolist(),
        graph.edge_target.tolist(),
        graph.edge_travel_time_s.tolist(),
        strict=True,
    ):
        if not ref.has_edge(s, t) or ref[s][t]["weight"] > w:
            ref.add_edge(s, t, weight=w)
    return ref
