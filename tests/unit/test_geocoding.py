"""The geocoder's pure parts: reading a hand-made OSM file (addresses on nodes and buildings,
entrances, one street in two pieces, crossings, places and POIs in two scripts) and wording."""

from __future__ import annotations

from pathlib import Path

import osmium
import pytest

from geocoding import labels
from geocoding.extract import Entry, dedupe, local_names_of, names_of, read_extract
from geocoding.search import house_numbers


def _write(path: Path) -> None:
    """A 3 x 3 street grid near (0, 0): Main Street crosses Oak Road and Elm Road; a second,
    separate Main Street far east; an addressed building with its main entrance; places."""
    w = osmium.SimpleWriter(str(path))
    nodes = {
        1: (0.000, 0.000), 2: (0.001, 0.000), 3: (0.002, 0.000),  # Main Street
        4: (0.001, -0.001), 5: (0.001, 0.001),                      # Oak Road crosses at 2
        6: (0.002, -0.001),                                         # Elm Road from 3
        7: (0.050, 0.000), 8: (0.051, 0.000),                       # the other Main Street
        20: (0.0005, 0.0003), 21: (0.0007, 0.0003), 22: (0.0007, 0.0005), 23: (0.0005, 0.0005),
    }
    tagged = {
        21: {"entrance": "main"},
        30: {"addr:housenumber": "12", "addr:street": "Main Street"},
        31: {"name": "Jamia Masjid", "name:ur": "جامع مسجد", "amenity": "place_of_worship",
             "alt_name": "Central Mosque;Old Mosque"},
        32: {"name": "Café Zoë", "amenity": "cafe"},
        33: {"name": "Greenfield", "place": "neighbourhood", "old_name": "Green Fields"},
    }
    where = {30: (0.0015, 0.0004), 31: (0.0012, -0.0006), 32: (0.0003, -0.0002),
             33: (0.0010, 0.0010)}
    for node_id, (lng, lat) in {**nodes, **where}.items():
        w.add_node(osmium.osm.mutable.Node(id=node_id, location=(lng, lat),
                                           tags=tagged.get(node_id, {})))
    ways = [
        (100, [1, 2], {"highway": "residential", "name": "Main Street"}),
        (101, [2, 3], {"highway": "residential", "name": "Main Street", "name:fr": "Rue Main"}),
        (102, [4, 2, 5], {"highway": "residential", "name": "Oak Road"}),
        (103, [3, 6], {"highway": "residential", "name": "Elm Road;Elm Rd"}),
        (104, [7, 8], {"highway": "residential", "name": "Main Street"}),
        (105, [20, 21, 22, 23, 20], {"building": "yes", "addr:housenumber": "3",
                                     "addr:street": "Main Street"}),
    ]
    for way_id, refs, tags in ways:
        w.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags))
    w.close()


@pytest.fixture(scope="module")
def entries(tmp_path_factory) -> list[Entry]:
    path = tmp_path_factory.mktemp("osm") / "grid.osm.pbf"
    _write(path)
    extract = read_extract(path)
    assert extract.bbox == pytest.approx((0.0, -0.001, 0.051, 0.001))
    return extract.entries


def by(entries: list[Entry], kind: str) -> dict[str, list[Entry]]:
    found: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.kind == kind:
            found.setdefault(entry.label, []).append(entry)
    return found


def test_one_street_entry_per_connected_piece(entries):
    streets = by(entries, "street")
    assert len(streets["Main Street"]) == 2  # two pieces that do not touch
    main = max(streets["Main Street"], key=lambda e: sum(len(line) for line in e.lines))
    assert len(main.lines) == 2 and "Rue Main" in main.names
    assert "Elm Road" in streets  # "A;B": the first name labels it


def test_a_street_piece_keeps_name_lang_of_any_of_its_ways_for_the_map(entries):
    pieces = sorted(by(entries, "street")["Main Street"], key=lambda e: len(e.lines))
    assert [p.local_names for p in pieces] == [{}, {"fr": "Rue Main"}]
    assert by(entries, "street")["Oak Road"][0].local_names == {}


def test_local_names_are_name_lang_with_a_language_code_only():
    tags = {"name": "A", "name:ur": "ب; ج", "name:sv": "Å", "name:zh-Hant": "X",
            "name:etymology:wikidata": "Q1", "name:": "Y", "alt_name:ur": "Z", "name:es": " "}
    assert local_names_of(tags) == {"ur": "ب", "sv": "Å"}


def test_intersections_of_two_named_streets(entries):
    crossings = by(entries, "intersection")
    assert set(crossings) == {"Main Street & Oak Road", "Elm Road & Main Street"}
    assert crossings["Main Street & Oak Road"][0].point == (0.001, 0.0)
    assert "Oak Road & Main Street" in crossings["Main Street & Oak Road"][0].names


def test_addresses_on_nodes_and_buildings_route_to_the_main_entrance(entries):
    addresses = by(entries, "address")
    assert addresses["12 Main Street"][0].point == (0.0015, 0.0004)
    building = addresses["3 Main Street"][0]
    assert building.point == (0.0007, 0.0003)  # the main entrance, not the middle
    assert "Main Street 3" in building.names   # number last, too


def test_places_and_pois_with_every_name(entries):
    mosque = by(entries, "poi")["Jamia Masjid"][0]
    assert {"جامع مسجد", "Central Mosque", "Old Mosque"} <= set(mosque.names)
    assert by(entries, "place")["Greenfield"][0].names == ["Greenfield", "Green Fields"]
    assert "Café Zoë" in by(entries, "poi")


def test_names_of_reads_every_name_tag():
    assert names_of({"name": "A", "name:ur": "ب", "alt_name": "C; D", "ref": "X"}) == [
        "A", "ب", "C", "D"]


def test_dedupe_keeps_one_of_the_same_thing_nearby():
    a = Entry("address", "1 X", ["1 X"], (0.0, 0.0))
    b = Entry("address", "1 X", ["X 1", "Shop 1 X"], (0.0001, 0.0))
    c = Entry("address", "1 X", ["1 X"], (0.01, 0.0))  # ~1.1 km away: another building
    kept = dedupe([a, b, c])
    assert kept == [a, c] and a.names == ["1 X", "X 1", "Shop 1 X"]


@pytest.mark.parametrize(("origin", "target", "expected"), [
    ((0, 0), (0, 1), "N"), ((0, 0), (1, 1), "NE"), ((0, 0), (1, 0), "E"),
    ((0, 0), (0, -1), "S"), ((0, 0), (-1, -1), "SW"), ((0, 0), (-1, 0.1), "W"),
])
def test_bearing(origin, target, expected):
    assert labels.bearing(origin, target) == expected


def test_wording():
    assert labels.distance_words(3) == "10 m"
    assert labels.distance_words(847) == "850 m"
    assert labels.distance_words(1234) == "1.2 km"
    assert labels.near_place("Mosque", (0, 0), (0.0, 0.0045)) == "500 m N of Mosque"
    point = (0.0015, 0.0)
    crossings = [("Oak Road", (0.001, 0.0)), ("Elm Road", (0.002, 0.0)),
                 ("Oak Road", (0.0012, 0.0))]
    assert labels.between("Main Street", point, crossings) == (
        "Main Street, between Oak Road and Elm Road")
    assert labels.between("Main Street", point, crossings[:1]) == "Main Street, near Oak Road"
    assert labels.between("Main Street", point, []) == "Main Street"


def test_house_numbers():
    assert house_numbers("Aleksanterinkatu 52") == ["52"]
    assert house_numbers("12B Main St") == ["12b"]
    assert house_numbers("Main Street") == []
