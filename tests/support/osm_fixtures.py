"""Tiny hand-written OSM extracts, written with pyosmium at test time, one per routing rule."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import osmium

#: Fixtures sit in the open Pacific, where no other test (nor city extract) routes.
ORIGIN = (-20.0, -140.0)
_M_PER_DEG_LAT = 111_195.0


def position(x_m: float, y_m: float) -> tuple[float, float]:
    """(lat, lng) of a point ``x_m`` east and ``y_m`` north of :data:`ORIGIN`."""
    lat0, lng0 = ORIGIN
    return (
        lat0 + y_m / _M_PER_DEG_LAT,
        lng0 + x_m / (_M_PER_DEG_LAT * math.cos(math.radians(lat0))),
    )


@dataclass
class OsmFixture:
    """Nodes placed in metres, ways and relations by name; written as a ``.osm.pbf``."""

    nodes: dict[str, tuple[float, float]] = field(default_factory=dict)
    node_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    ways: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)
    relations: list[tuple[list[tuple[str, str, str]], dict[str, str]]] = field(default_factory=list)

    def node(self, name: str, x_m: float, y_m: float, /, **tags: str) -> OsmFixture:
        self.nodes[name] = (x_m, y_m)
        if tags:
            self.node_tags[name] = {k.replace("__", ":"): v for k, v in tags.items()}
        return self

    def way(self, name: str, nodes: Sequence[str], tags: Mapping[str, str]) -> OsmFixture:
        self.ways[name] = (list(nodes), dict(tags))
        return self

    def relation(self, members: Sequence[tuple[str, str, str]], tags: Mapping[str, str]) -> None:
        """``members``: (type ``n``/``w``, name, role)."""
        self.relations.append((list(members), dict(tags)))

    def node_id(self, name: str) -> int:
        return 1 + list(self.nodes).index(name)

    def way_id(self, name: str) -> int:
        return 1000 + list(self.ways).index(name)

    def latlng(self, name: str) -> tuple[float, float]:
        return position(*self.nodes[name])

    def write(self, path: Path) -> Path:
        if path.exists():
            path.unlink()
        with osmium.SimpleWriter(str(path)) as writer:
            for name, (x, y) in self.nodes.items():
                lat, lng = position(x, y)
                writer.add_node(
                    osmium.osm.mutable.Node(
                        id=self.node_id(name),
                        location=(lng, lat),
                        tags=self.node_tags.get(name, {}),
                    )
                )
            for name, (nodes, tags) in self.ways.items():
                writer.add_way(
                    osmium.osm.mutable.Way(
                        id=self.way_id(name), nodes=[self.node_id(n) for n in nodes], tags=tags
                    )
                )
            for i, (members, tags) in enumerate(self.relations):
                refs = [
                    (kind, self.node_id(ref) if kind == "n" else self.way_id(ref), role)
                    for kind, ref, role in members
                ]
                writer.add_relation(
                    osmium.osm.mutable.Relation(id=5000 + i, members=refs, tags=tags)
                )
        return path


def gate_and_detour(gate_tags: Mapping[str, str]) -> OsmFixture:
    """A 200 m street from A to B through a gate at G, and an 800 m detour around it."""
    fx = OsmFixture()
    fx.node("A", 0, 0).node("G", 100, 0).node("B", 200, 0)
    fx.node("D1", 0, 300).node("D2", 200, 300)
    fx.node_tags["G"] = dict(gate_tags)
    fx.way("through", ["A", "G", "B"], {"highway": "residential"})
    fx.way("detour", ["A", "D1", "D2", "B"], {"highway": "residential"})
    return fx
