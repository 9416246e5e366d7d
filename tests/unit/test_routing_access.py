"""Barriers, access tags, emergency access and service roads, on hand-written OSM extracts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routing.access import barrier_blocks, way_rule
from routing.engine import TravelTimeEngine
from routing.osm_import import build_graph
from tests.support.osm_fixtures import OsmFixture, gate_and_detour

THROUGH_M, DETOUR_M = 200.0, 800.0


def route_metres(fx: OsmFixture, tmp_path: Path, a: str = "A", b: str = "B") -> float:
    graph = build_graph(fx.write(tmp_path / "fixture.osm.pbf"))
    engine = TravelTimeEngine(graph, [], auto_refresh=False)
    route = engine.route(fx.latlng(a), fx.latlng(b))
    assert route is not None
    return route.distance_m


@pytest.mark.parametrize(
    ("tags", "passes"),
    [
        ({"barrier": "gate"}, True),
        ({"barrier": "lift_gate"}, True),
        ({"barrier": "gate", "access": "private"}, False),
        ({"barrier": "gate", "access": "no"}, False),
        ({"barrier": "gate", "access": "private", "emergency": "yes"}, True),
        ({"barrier": "gate", "access": "no", "emergency": "designated"}, True),
        ({"barrier": "gate", "motor_vehicle": "no"}, False),
        ({"barrier": "gate", "locked": "yes"}, False),
        ({"barrier": "gate", "locked": "yes", "access": "yes"}, False),
        ({"barrier": "gate", "locked": "yes", "emergency": "yes"}, True),
        ({"barrier": "gate", "locked": "yes", "access": "emergency"}, True),
        ({"barrier": "bollard"}, False),
        ({"barrier": "bollard", "emergency": "yes"}, True),
        ({"barrier": "bollard", "emergency": "no", "access": "yes"}, False),
    ],
)
def test_gate_closes_the_short_way_unless_open_to_ambulances(
    tmp_path: Path, tags: dict[str, str], passes: bool
) -> None:
    assert barrier_blocks(tags) is not passes
    metres = route_metres(gate_and_detour(tags), tmp_path)
    assert metres == pytest.approx(THROUGH_M if passes else DETOUR_M, rel=0.02)


def two_ways(short_tags: dict[str, str]) -> OsmFixture:
    fx = OsmFixture()
    fx.node("A", 0, 0).node("M", 100, 0).node("B", 200, 0)
    fx.node("D1", 0, 300).node("D2", 200, 300)
    fx.way("short", ["A", "M", "B"], short_tags)
    fx.way("detour", ["A", "D1", "D2", "B"], {"highway": "residential"})
    return fx


@pytest.mark.parametrize(
    ("tags", "usable"),
    [
        ({"highway": "residential"}, True),
        ({"highway": "residential", "access": "private"}, False),
        ({"highway": "residential", "motor_vehicle": "no"}, False),
        ({"highway": "residential", "access": "no", "emergency": "yes"}, True),
        ({"highway": "service"}, True),
        ({"highway": "service", "service": "emergency_access", "access": "no"}, True),
        ({"highway": "service", "service": "emergency_access", "emergency": "no"}, False),
        ({"highway": "service", "service": "parking_aisle"}, True),
        ({"highway": "pedestrian"}, False),
        ({"highway": "pedestrian", "emergency": "yes"}, True),
        ({"highway": "construction"}, False),
        ({"highway": "residential", "route": "ferry"}, False),
        ({"highway": "residential", "motorcar": "yes", "access": "no"}, True),
    ],
)
def test_way_access_for_an_ambulance(tmp_path: Path, tags: dict[str, str], usable: bool) -> None:
    assert (way_rule(tags) is not None) is usable
    metres = route_metres(two_ways(tags), tmp_path)
    assert metres == pytest.approx(THROUGH_M if usable else DETOUR_M, rel=0.02)


def test_service_roads_are_driven_with_their_documented_penalty(tmp_path: Path) -> None:
    """15 km/h on a service road; a parking aisle takes twice as long (routing.access)."""
    for tags, seconds in [
        ({"highway": "service"}, 200 * 3.6 / 15),
        ({"highway": "service", "service": "parking_aisle"}, 2 * 200 * 3.6 / 15),
        ({"highway": "residential"}, 200 * 3.6 / 30),
    ]:
        fx = OsmFixture()
        fx.node("A", 0, 0).node("B", 200, 0).way("road", ["A", "B"], tags)
        graph = build_graph(fx.write(tmp_path / "service.osm.pbf"))
        assert graph.edge_travel_time_s.tolist() == pytest.approx([seconds, seconds], rel=0.01)


def test_emergency_speed_factors_scale_their_class_only(tmp_path: Path) -> None:
    fx = OsmFixture()
    fx.node("A", 0, 0).node("B", 200, 0).node("C", 400, 0)
    fx.way("primary", ["A", "B"], {"highway": "primary"})
    fx.way("residential", ["B", "C"], {"highway": "residential"})
    path = fx.write(tmp_path / "classes.osm.pbf")
    plain = build_graph(path, speed_factors={})
    faster = build_graph(path, speed_factors={"primary": 1.25})
    ratio = plain.edge_travel_time_s / faster.edge_travel_time_s
    is_primary = plain.edge_osm_way_id == fx.way_id("primary")
    assert ratio[is_primary] == pytest.approx(1.25)
    assert ratio[~is_primary] == pytest.approx(1.0)


def test_untagged_roads_in_open_country_take_the_rural_default(tmp_path: Path) -> None:
    """A dense town (100 m grid) and a lone primary road 6 km away, both untagged."""
    fx = OsmFixture()
    for i in range(21):  # 2 x 2 km of streets every 100 m: about 40 km of road per 4 km²
        fx.node(f"r{i}a", i * 100, 0).node(f"r{i}b", i * 100, 2000)
        fx.node(f"c{i}a", 0, i * 100).node(f"c{i}b", 2000, i * 100)
        fx.way(f"row{i}", [f"r{i}a", f"r{i}b"], {"highway": "residential"})
        fx.way(f"col{i}", [f"c{i}a", f"c{i}b"], {"highway": "residential"})
    fx.node("P0", 2000, 0)
    fx.way("town_primary", ["r0a", "r10a", "P0"], {"highway": "primary"})
    fx.node("P1", 8000, 0).node("P2", 8000, 2000).node("P3", 8000, 4000)
    fx.way("country_primary", ["P0", "P1", "P2", "P3"], {"highway": "primary"})
    fx.way("tagged_country", ["P3", "P1"], {"highway": "primary", "maxspeed": "60"})
    from routing.speeds import way_speed_kmh

    graph = build_graph(fx.write(tmp_path / "town.osm.pbf"))
    speed = graph.edge_length_m * 3.6 / graph.edge_travel_time_s
    way = graph.edge_osm_way_id
    def speeds_of(name: str) -> list[float]:
        return np.unique(np.round(speed[way == fx.way_id(name)])).tolist()

    assert speeds_of("town_primary") == [60.0]
    assert 80.0 in speeds_of("country_primary")  # its far stretch, 6 km from the town
    assert speeds_of("tagged_country") == [60.0]
    assert way_speed_kmh({"highway": "primary"}) == 60.0  # the urban class default
