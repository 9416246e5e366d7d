"""A hospital is reached at its entrance or campus road, not at the highway nearest its centre."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.engine import TravelTimeEngine
from routing.entrances import hospital_access, hospital_pois
from routing.osm_import import build_graph
from tests.support.osm_fixtures import OsmFixture


def campus(entrance_tags: dict[str, str] | None = None) -> OsmFixture:
    """A hospital area 5-200 m north of a trunk road; its campus road comes from the north."""
    fx = OsmFixture()
    fx.node("W", -500, 0).node("H0", 100, 0).node("E", 700, 0)
    fx.node("NW", -500, 400).node("N", 380, 400).node("NE", 700, 400)
    fx.node("GATE", 380, 200, **(entrance_tags or {})).node("DROP", 370, 170)
    fx.way("trunk", ["W", "H0", "E"], {"highway": "trunk"})
    fx.way("ring", ["E", "NE", "N", "NW", "W"], {"highway": "residential"})
    fx.way("campus", ["N", "GATE", "DROP"], {"highway": "service"})
    fx.node("A1", 0, 5).node("A2", 400, 5).node("A3", 400, 200).node("A4", 0, 200)
    fx.way(
        "hospital",
        ["A1", "A2", "A3", "GATE", "A4", "A1"],
        {"amenity": "hospital", "name": "Campus Hospital", "emergency": "yes"},
    )
    return fx


def test_hospital_behind_a_highway_is_reached_by_its_campus_road(tmp_path: Path) -> None:
    fx = campus()
    path = fx.write(tmp_path / "campus.osm.pbf")
    graph = build_graph(path)
    (poi,) = hospital_pois(path)
    assert poi.osm_type == "way" and poi.name == "Campus Hospital" and poi.outline is not None
    (access,) = hospital_access([poi], graph)
    assert access.kind == "campus_road"
    assert (access.lat, access.lng) == pytest.approx(fx.latlng("DROP"))
    # The old rule (nearest road to the centre) put the hospital on the trunk road.
    engine = TravelTimeEngine(graph, [("centre", poi.lat, poi.lng)], auto_refresh=False)
    assert graph.edge_osm_way_id[engine.hospital_snaps[0].edge_index] == fx.way_id("trunk")
    incident = fx.latlng("H0")
    naive = engine.nearest(*incident, k=1)[0].eta_s
    engine.set_hospitals([("campus", access.lat, access.lng)])
    engine.precompute()
    real = engine.nearest(*incident, k=1)[0].eta_s
    route = engine.route(incident, (access.lat, access.lng))
    assert route is not None and real == pytest.approx(route.eta_s, abs=0.1)
    assert naive < 10 < 60 < real  # around the block: east, north, west along the ring, south


@pytest.mark.parametrize(
    ("tags", "kind"),
    [
        ({"entrance": "emergency"}, "emergency_entrance"),
        ({"entrance": "main", "emergency": "yes"}, "emergency_entrance"),
        ({"emergency": "emergency_ward_entrance"}, "emergency_entrance"),
        ({"entrance": "main"}, "entrance"),
        ({"entrance": "yes"}, "entrance"),
    ],
)
def test_entrance_on_the_outline_is_the_access_point(
    tmp_path: Path, tags: dict[str, str], kind: str
) -> None:
    fx = campus(tags)
    path = fx.write(tmp_path / "entrance.osm.pbf")
    (access,) = hospital_access(hospital_pois(path), build_graph(path))
    assert access.kind == kind
    assert (access.lat, access.lng) == pytest.approx(fx.latlng("GATE"))
    assert access.snap_distance_m < 1 and not access.flagged


def test_emergency_entrance_wins_over_another_entrance(tmp_path: Path) -> None:
    fx = campus({"entrance": "main"})
    fx.node("ED", 400, 120, entrance="emergency")  # on the east side of the outline
    fx.way("hospital", ["A1", "A2", "ED", "A3", "GATE", "A4", "A1"], fx.ways["hospital"][1])
    fx.way("ed_road", ["E", "ED"], {"highway": "service"})
    path = fx.write(tmp_path / "two_entrances.osm.pbf")
    (access,) = hospital_access(hospital_pois(path), build_graph(path))
    assert access.kind == "emergency_entrance"
    assert (access.lat, access.lng) == pytest.approx(fx.latlng("ED"))


def test_hospital_far_from_any_road_is_flagged_with_its_snap_distance(tmp_path: Path) -> None:
    fx = campus()
    fx.node("CLINIC", -300, 250, amenity="hospital", name="Far Clinic")
    path = fx.write(tmp_path / "far.osm.pbf")
    pois = {p.name: p for p in hospital_pois(path)}
    far = hospital_access([pois["Far Clinic"]], build_graph(path))[0]
    assert far.kind == "nearest_road"
    assert far.snap_distance_m == pytest.approx(150, rel=0.02) and far.flagged
