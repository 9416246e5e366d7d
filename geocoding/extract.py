"""Read the searchable things of an OSM extract (addresses, entrances, streets, crossings, places).

Pure reading with pyosmium, no database: :func:`read_extract` returns plain entries that
:mod:`geocoding.index` writes. One pass over the file with node locations kept in memory.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

#: Tags whose values name a thing (``name:*`` is added per language).
NAME_KEYS = ("name", "alt_name", "old_name", "official_name", "short_name", "loc_name", "int_name")
#: POI tags worth finding by name; ``place=*`` and ``landuse=*`` are places.
POI_KEYS = ("amenity", "shop", "tourism", "leisure", "healthcare", "office", "historic",
            "aeroway", "craft", "man_made")
PLACE_KEYS = ("place", "landuse")
STATION_TAGS = (("railway", "station"), ("public_transport", "station"), ("railway", "halt"))
#: Two crossings of the same pair of streets closer than this are one intersection.
SAME_CROSSING_M = 60.0

Point = tuple[float, float]  # (lng, lat)
#: A language code as ``name:<lang>`` keys and the map's ``lang`` parameter spell it.
LANG_CODE = re.compile(r"[a-z]{2,3}")


@dataclass
class Entry:
    """One searchable thing: what it is called, what kind it is, and the point to route to."""

    kind: str  # address | street | intersection | place | poi
    label: str
    names: list[str]
    point: Point
    housenumber: str | None = None
    street: str | None = None
    cross_street: str | None = None
    lines: list[list[Point]] = field(default_factory=list)
    #: ``name:<lang>`` per language code, so a map can label the street in the reader's language.
    local_names: dict[str, str] = field(default_factory=dict)


def names_of(tags: dict[str, str]) -> list[str]:
    """Every name a thing carries: ``name``, ``name:*``, ``alt_name``, ``old_name``... (``;``
    separates several)."""
    found: list[str] = []
    for key, value in tags.items():
        if key in NAME_KEYS or key.startswith("name:") or key.startswith("alt_name:"):
            for part in value.split(";"):
                part = part.strip()
                if part and part not in found:
                    found.append(part)
    return found


def local_names_of(tags: dict[str, str]) -> dict[str, str]:
    """``{"ur": "...", "sv": "..."}`` from ``name:ur``, ``name:sv``... (2-3 letter codes only,
    the first of ``;``-separated values, as for ``name``)."""
    found: dict[str, str] = {}
    for key, value in tags.items():
        lang = key[5:] if key.startswith("name:") else ""
        first = value.split(";")[0].strip()
        if LANG_CODE.fullmatch(lang) and first:
            found[lang] = first
    return found


def metres(a: Point, b: Point) -> float:
    """Equirectangular distance, enough within a city."""
    lat = math.radians((a[1] + b[1]) / 2)
    dx = math.radians(b[0] - a[0]) * math.cos(lat)
    dy = math.radians(b[1] - a[1])
    return 6_371_008.8 * math.hypot(dx, dy)


def centroid(points: list[Point]) -> Point:
    """Mean of a ring's vertices (the closing vertex counted once)."""
    ring = points[:-1] if len(points) > 1 and points[0] == points[-1] else points
    return (sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))


def poi_kind(tags: dict[str, str]) -> str | None:
    """``place`` or ``poi`` for a named thing worth finding, else None."""
    if any(k in tags for k in PLACE_KEYS):
        return "place"
    if any(k in tags for k in POI_KEYS) or any(tags.get(k) == v for k, v in STATION_TAGS):
        return "poi"
    return None


def address_label(housenumber: str, street: str) -> str:
    """``12 Main Street``: the number first, as the call-taker reads it back."""
    return f"{housenumber} {street}"


def _root(parent: dict[int, int], i: int) -> int:
    """Union-find root, halving the path on the way."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


class _Streets:
    """Named highway ways, joined per name into connected pieces (shared nodes)."""

    def __init__(self) -> None:
        self.ways: list[tuple[str, list[str], list[int], list[Point]]] = []
        self.local: list[dict[str, str]] = []

    def add(self, name: str, names: list[str], node_ids: list[int], points: list[Point],
            local: dict[str, str] | None = None) -> None:
        self.ways.append((name, names, node_ids, points))
        self.local.append(local or {})

    def pieces(self) -> list[Entry]:
        by_name: dict[str, list[int]] = defaultdict(list)
        for index, (name, *_rest) in enumerate(self.ways):
            by_name[name].append(index)
        entries: list[Entry] = []
        for name, indexes in by_name.items():
            parent = {i: i for i in indexes}
            find = partial(_root, parent)
            first_way_at: dict[int, int] = {}
            for i in indexes:
                for node in self.ways[i][2]:
                    other = first_way_at.setdefault(node, i)
                    if other != i:
                        parent[find(i)] = find(other)
            groups: dict[int, list[int]] = defaultdict(list)
            for i in indexes:
                groups[find(i)].append(i)
            for members in groups.values():
                lines = [self.ways[i][3] for i in members]
                names: list[str] = []
                local: dict[str, str] = {}
                for i in members:
                    names.extend(n for n in self.ways[i][1] if n not in names)
                    for lang, local_name in self.local[i].items():
                        local.setdefault(lang, local_name)
                middle = lines[len(lines) // 2]
                entries.append(Entry(kind="street", label=name, names=names or [name],
                                     point=middle[len(middle) // 2], street=name, lines=lines,
                                     local_names=local))
        return entries

    def intersections(self) -> list[Entry]:
        names_at: dict[int, set[str]] = defaultdict(set)
        point_at: dict[int, Point] = {}
        for name, _names, node_ids, points in self.ways:
            for node, point in zip(node_ids, points, strict=True):
                names_at[node].add(name)
                point_at[node] = point
        kept: dict[tuple[str, str], list[Point]] = defaultdict(list)
        for node, names in names_at.items():
            if len(names) < 2:
                continue
            ordered = sorted(names)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1:]:
                    seen = kept[(a, b)]
                    point = point_at[node]
                    if all(metres(point, other) > SAME_CROSSING_M for other in seen):
                        seen.append(point)
        return [
            Entry(kind="intersection", label=f"{a} & {b}", names=[f"{a} & {b}", f"{b} & {a}"],
                  point=point, street=a, cross_street=b)
            for (a, b), points in kept.items() for point in points
        ]


@dataclass
class Extract:
    """What the geocoder keeps of one extract: its entries and the bounding box of its nodes."""

    entries: list[Entry]
    bbox: tuple[float, float, float, float]  # west, south, east, north


def read_extract(path: str | Path) -> Extract:
    """Every address, entrance, street piece, intersection, place and POI of one extract."""
    import osmium

    entries: list[Entry] = []
    streets = _Streets()
    entrances: dict[int, tuple[Point, str]] = {}
    west, south, east, north = 180.0, 90.0, -180.0, -90.0
    for obj in osmium.FileProcessor(str(path)).with_locations():
        if obj.is_node():
            if not obj.location.valid():
                continue
            point = (obj.location.lon, obj.location.lat)
            west, east = min(west, point[0]), max(east, point[0])
            south, north = min(south, point[1]), max(north, point[1])
            if not obj.tags:
                continue
            tags = {t.k: t.v for t in obj.tags}
            if "entrance" in tags:
                entrances[obj.id] = (point, tags["entrance"])
            door = tags.get("ref") or tags.get("addr:unit") if "entrance" in tags else None
            _add_tagged(entries, tags, point, door=door)
        elif obj.is_way() and obj.tags:
            tags = {t.k: t.v for t in obj.tags}
            try:
                node_ids = [n.ref for n in obj.nodes]
                points = [(n.lon, n.lat) for n in obj.nodes]
            except osmium.InvalidLocationError:
                continue
            if len(points) < 2:
                continue
            # "A;B" names a way twice (a renamed road): the first is what signs say.
            name = (tags.get("name") or "").split(";")[0].strip()
            if "highway" in tags and name and tags.get("area") != "yes":
                streets.add(name, names_of(tags), node_ids, points, local_names_of(tags))
                continue
            if points[0] != points[-1]:
                continue
            door = _entrance_of(node_ids, entrances)
            _add_tagged(entries, tags, door or centroid(points))
    entries = dedupe(entries)
    entries.extend(streets.pieces())
    entries.extend(streets.intersections())
    return Extract(entries, (west, south, east, north))


#: The same address or name this close again is the same thing (a building and its address node,
#: a shop mapped as a point and as its outline).
SAME_THING_M = 50.0


def dedupe(entries: list[Entry]) -> list[Entry]:
    """One entry per (kind, label) within :data:`SAME_THING_M`; the first seen (nodes, then
    ways: an entrance or address node is the more exact point) is kept, with every name."""
    kept: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    out: list[Entry] = []
    for entry in entries:
        same = kept[(entry.kind, entry.label)]
        twin = next((e for e in same if metres(e.point, entry.point) <= SAME_THING_M), None)
        if twin is None:
            same.append(entry)
            out.append(entry)
        else:
            twin.names.extend(n for n in entry.names if n not in twin.names)
    return out


def _entrance_of(node_ids: list[int], entrances: dict[int, tuple[Point, str]]) -> Point | None:
    """The building's main entrance (else any entrance) among its outline's nodes."""
    doors = [entrances[n] for n in node_ids if n in entrances]
    if not doors:
        return None
    doors.sort(key=lambda door: door[1] != "main")
    return doors[0][0]


def _add_tagged(
    entries: list[Entry], tags: dict[str, str], point: Point, *, door: str | None = None
) -> None:
    """An address and/or a named place or POI carried by one node or closed way (or an
    entrance, ``door`` its ``ref``: staircase A of a block of flats)."""
    housenumber = tags.get("addr:housenumber")
    street = tags.get("addr:street") or tags.get("addr:place")
    if housenumber and street:
        label = address_label(housenumber, street)
        if door:
            label = f"{label}, entrance {door}"
        names = [label, f"{street} {housenumber}"]
        if "name" in tags:
            names.append(f"{tags['name']} {label}")
        entries.append(Entry(kind="address", label=label, names=names, point=point,
                             housenumber=housenumber, street=street))
    names = names_of(tags)
    kind = poi_kind(tags)
    if names and kind is not None:
        entries.append(Entry(kind=kind, label=tags.get("name") or names[0], names=names,
                             point=point))
