"""Snapping must find the true nearest road segment and the exact point on it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routing.errors import InvalidCoordinateError
from routing.graph import RoadGraph, haversine_m, straight_geometry
from routing.snap import EdgeSnapper, road_segments
from routing.synthetic import synthetic_grid
from tests.unit.test_routing_osm_import import helsinki


def two_streets() -> RoadGraph:
    """An east-west two-way street 0-1 and a one-way street 1 -> 2 heading north."""
    lat0, lng0 = 60.17, 24.94
    dlng = 0.002  # ~111 m at this latitude
    dlat = 0.001  # ~111 m
    lon = np.array([lng0, lng0 + dlng, lng0 + dlng])
    lat = np.array([lat0, lat0, lat0 + dlat])
    src = np.array([0, 1, 1], dtype=np.int32)
    tgt = np.array([1, 0, 2], dtype=np.int32)
    coords, offsets = straight_geometry(lon, lat, src, tgt)
    length = haversine_m(lat[src], lon[src], lat[tgt], lon[tgt])
    return RoadGraph(
        node_osm_id=np.array([10, 11, 12]),
        node_lon=lon,
        node_lat=lat,
        edge_source=src,
        edge_target=tgt,
        edge_length_m=length,
        edge_travel_time_s=np.array([10.0, 12.0, 20.0]),
        edge_osm_way_id=np.array([1, 1, 2]),
        geometry_coords=coords,
        geometry_offsets=offsets,
    )


def test_segments_pair_both_directions() -> None:
    seg = road_segments(two_streets())
    assert seg.n_segments == 2
    assert sorted(zip(seg.forward_edge.tolist(), seg.backward_edge.tolist(), strict=True)) == [
        (0, 1),
        (2, -1),
    ]


def test_snap_projects_onto_the_segment() -> None:
    graph = two_streets()
    snapper = EdgeSnapper(graph)
    # A quarter of the way along street 0-1, 20 m south of it.
    lat = 60.17 - 20 / 111_195
    lng = 24.94 + 0.25 * 0.002
    snap = snapper.snap(lat, lng)
    assert snap.edge_index == 0
    assert snap.fraction == pytest.approx(0.25, abs=1e-3)
    assert snap.distance_m == pytest.approx(20.0, abs=0.2)
    assert snap.point[0] == pytest.approx(60.17, abs=1e-7)
    assert snap.point[1] == pytest.approx(lng, abs=1e-7)
    assert not snap.off_network


def test_snap_clamps_to_segment_end() -> None:
    snapper = EdgeSnapper(two_streets())
    snap = snapper.snap(60.17 - 0.0003, 24.94 - 0.0005)  # south-west of node 0
    assert snap.edge_index == 0 and snap.fraction == 0.0
    assert snap.point == pytest.approx((60.17, 24.94))


def test_snap_on_one_way_street_reports_its_direction() -> None:
    snapper = EdgeSnapper(two_streets())
    snap = snapper.snap(60.1705, 24.942 + 0.00005)  # beside the northbound street
    assert snap.edge_index == 2
    assert snap.fraction == pytest.approx(0.5, abs=0.01)


def test_off_network_flag() -> None:
    snapper = EdgeSnapper(two_streets(), max_distance_m=500)
    far = snapper.snap(60.18, 24.94)  # ~1.1 km north
    assert far.off_network
    assert far.distance_m == pytest.approx(haversine_m(60.18, 24.94, *far.point), rel=1e-6)
    near = EdgeSnapper(two_streets(), max_distance_m=5_000).snap(60.18, 24.94)
    assert not near.off_network


@pytest.mark.parametrize(
    ("lat", "lng"),
    [
        (math.nan, 24.9),
        (60.1, math.inf),
        (91.0, 24.9),
        (60.1, -181.0),
        ("sixty", 24.9),
        (None, 24.9),
    ],
)
def test_invalid_coordinates_raise(lat: object, lng: object) -> None:
    with pytest.raises(InvalidCoordinateError):
        EdgeSnapper(two_streets()).snap(lat, lng)  # type: ignore[arg-type]
    assert issubclass(InvalidCoordinateError, ValueError)


def brute_force_distance(snapper: EdgeSnapper, lat: float, lng: float) -> float:
    x = (lng - snapper.lng0) * snapper.kx
    y = (lat - snapper.lat0) * snapper.ky
    ax, ay, dx, dy, inv = snapper._pieces.T
    t = np.clip(((x - ax) * dx + (y - ay) * dy) * inv, 0, 1)
    return float(np.sqrt(((ax + t * dx - x) ** 2 + (ay + t * dy - y) ** 2).min()))


@pytest.mark.parametrize("spread", [0.0003, 0.01])  # near the roads, and far off them
def test_snap_agrees_with_brute_force_on_helsinki(spread: float) -> None:
    graph = helsinki()
    snapper = EdgeSnapper(graph)
    rng = np.random.default_rng(5)
    nodes = rng.integers(0, graph.n_nodes, 300)
    lats = graph.node_lat[nodes] + rng.normal(0, spread, 300)
    lngs = graph.node_lon[nodes] + rng.normal(0, spread * 2, 300)
    for lat, lng in zip(lats.tolist(), lngs.tolist(), strict=True):
        snap = snapper.snap(lat, lng)
        x = (snap.point[1] - snapper.lng0) * snapper.kx
        y = (snap.point[0] - snapper.lat0) * snapper.ky
        qx = (lng - snapper.lng0) * snapper.kx
        qy = (lat - snapper.lat0) * snapper.ky
        assert math.hypot(x - qx, y - qy) == pytest.approx(
            brute_force_distance(snapper, lat, lng), abs=1e-6
        )


def test_snap_fraction_locates_the_point_on_the_edge() -> None:
    graph = synthetic_grid(20, seed=2)
    snapper = EdgeSnapper(graph)
    rng = np.random.default_rng(9)
    for _ in range(100):
        lat = rng.uniform(graph.node_lat.min(), graph.node_lat.max())
        lng = rng.uniform(graph.node_lon.min(), graph.node_lon.max())
        snap = snapper.snap(lat, lng)
        a, b = graph.edge_coords(snap.edge_index)[[0, -1]]
        expected = a + snap.fraction * (b - a)
        assert snap.point[1] == pytest.approx(expected[0], abs=1e-9)
        assert snap.point[0] == pytest.approx(expected[1], abs=1e-9)


def test_far_snaps_are_remembered_and_equal_a_fresh_search() -> None:
    """A station far from any road is searched once; the answer is the same as a fresh one."""
    from routing.snap import EdgeSnapper
    from tests.unit.test_routing_osm_import import helsinki

    graph = helsinki()
    snapper = EdgeSnapper(graph)
    far = (60.1500, 24.9000)  # in the sea, kilometres from the extract's roads
    first = snapper.snap(*far)
    assert first.off_network and (far[0], far[1]) in snapper._far
    assert snapper.snap(*far) is first
    assert EdgeSnapper(graph).snap(*far) == first
