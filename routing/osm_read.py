"""Read the roads, barriers and node tags an ambulance cares about from an OSM extract."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routing.access import barrier_blocks, travel_directions, way_rule
from routing.errors import RegionImportError
from routing.graph import FloatArray, Int64Array, TurnRestriction
from routing.speeds import speed_is_tagged, way_speed_kmh
from routing.turns import restriction_from_tags

#: Tags naming an object's country (ISO 3166-1 alpha-2), for the region's driving side.
COUNTRY_KEYS = ("ISO3166-1:alpha2", "ISO3166-1", "is_in:country_code", "addr:country")
#: Node tags that cost time at a junction (``highway=*`` values, :mod:`routing.turns`).
DELAY_NODE_VALUES = frozenset({"traffic_signals", "stop", "give_way", "crossing"})


@dataclass
class OsmRoads:
    """The drivable ways of an extract as flat arrays: one row per way node occurrence."""

    ref: Int64Array
    """OSM node id of each way node, ways concatenated."""
    lon: FloatArray
    lat: FloatArray
    way_start: Int64Array
    """Way ``i`` owns rows ``way_start[i]:way_start[i + 1]``."""
    way_id: Int64Array
    forward: np.ndarray[Any, np.dtype[np.bool_]]
    backward: np.ndarray[Any, np.dtype[np.bool_]]
    speed_kmh: FloatArray
    speed_tagged: np.ndarray[Any, np.dtype[np.bool_]]
    """The way's speed comes from its tags (else from its class: urban/rural applies)."""
    time_factor: FloatArray
    highway: list[str]
    blocked_nodes: set[int] = field(default_factory=set)
    """Barrier nodes an ambulance cannot pass."""
    node_kind: dict[int, str] = field(default_factory=dict)
    """``highway=traffic_signals|stop|give_way|crossing`` nodes."""
    restrictions: list[TurnRestriction] = field(default_factory=list)
    skipped_ways: int = 0
    country: str | None = None
    """ISO code seen in ``maxspeed``-type tags (``PK:urban``), the most frequent one."""


def _processor(path: Path, *kinds: Any) -> Any:
    import osmium

    if not path.is_file():
        raise RegionImportError(f"{path}: no such OSM extract")
    if path.stat().st_size == 0:
        raise RegionImportError(f"{path}: the OSM extract is empty")
    try:
        return osmium.FileProcessor(str(path), *kinds)
    except Exception as exc:  # pyosmium raises RuntimeError and its own errors
        raise RegionImportError(f"{path}: not a readable OSM extract ({exc})") from exc


def read_roads(pbf_path: str | Path) -> OsmRoads:
    """
    Read the ways an ambulance may drive and the nodes that stop or slow it.

    Parameters
    ----------
    pbf_path : str or pathlib.Path

    Returns
    -------
    OsmRoads

    Raises
    ------
    RegionImportError
        Missing, empty or unreadable file.
    """
    import osmium
    from osmium.filter import KeyFilter

    from routing.speeds import country_of_tags

    path = Path(pbf_path)
    refs: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    starts = [0]
    way_ids: list[int] = []
    fwd: list[bool] = []
    bwd: list[bool] = []
    speeds: list[float] = []
    tagged: list[bool] = []
    factors: list[float] = []
    highways: list[str] = []
    countries: dict[str, int] = {}
    skipped = 0
    blocked: set[int] = set()
    kinds: dict[int, str] = {}
    restrictions: list[TurnRestriction] = []
    try:
        named = _processor(path).with_filter(KeyFilter(*COUNTRY_KEYS))
        for obj in named:  # the country boundary (ISO3166-1) and addresses name the country
            for key in COUNTRY_KEYS:
                code = (obj.tags.get(key) or "").strip().upper()
                if len(code) == 2 and code.isalpha():
                    countries[code] = countries.get(code, 0) + (100 if "ISO" in key else 1)
        relations = _processor(path, osmium.osm.RELATION).with_filter(
            osmium.filter.TagFilter(("type", "restriction"))
        )
        for relation in relations:
            members = [(m.type, m.ref, m.role) for m in relation.members]
            found = restriction_from_tags({t.k: t.v for t in relation.tags}, members)
            if found is not None:
                restrictions.append(found)
        nodes = _processor(path, osmium.osm.NODE).with_filter(KeyFilter("barrier", "highway"))
        for node in nodes:
            tags = {t.k: t.v for t in node.tags}
            if barrier_blocks(tags):
                blocked.add(node.id)
            kind = tags.get("highway")
            if kind in DELAY_NODE_VALUES:
                kinds[node.id] = kind
        ways = (
            _processor(path, osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(KeyFilter("highway"))
        )
        for way in ways:
            tags = {t.k: t.v for t in way.tags}
            directions = travel_directions(
                tags.get("oneway"), tags.get("junction"), tags.get("highway")
            )
            rule = way_rule(tags, directions)
            if rule is None:
                skipped += 1
                continue
            located = [(n.ref, n.lon, n.lat) for n in way.nodes if n.location.valid()]
            if len(located) < 2:
                continue
            for ref, lon, lat in located:
                refs.append(ref)
                lons.append(lon)
                lats.append(lat)
            starts.append(len(refs))
            way_ids.append(way.id)
            fwd.append(rule.forward)
            bwd.append(rule.backward)
            speeds.append(way_speed_kmh(tags))
            tagged.append(speed_is_tagged(tags))
            factors.append(rule.time_factor)
            highways.append(tags.get("highway", ""))
            country = country_of_tags(tags)
            if country:
                countries[country] = countries.get(country, 0) + 1
    except RegionImportError:
        raise
    except Exception as exc:
        raise RegionImportError(f"{path}: not a readable OSM extract ({exc})") from exc
    return OsmRoads(
        ref=np.array(refs, dtype=np.int64),
        lon=np.array(lons, dtype=np.float64),
        lat=np.array(lats, dtype=np.float64),
        way_start=np.array(starts, dtype=np.int64),
        way_id=np.array(way_ids, dtype=np.int64),
        forward=np.array(fwd, dtype=bool),
        backward=np.array(bwd, dtype=bool),
        speed_kmh=np.array(speeds, dtype=np.float64),
        speed_tagged=np.array(tagged, dtype=bool),
        time_factor=np.array(factors, dtype=np.float64),
        highway=highways,
        blocked_nodes=blocked,
        node_kind=kinds,
        restrictions=restrictions,
        skipped_ways=skipped,
        country=max(countries, key=lambda c: countries[c]) if countries else None,
    )
