"""Where an ambulance reaches a hospital: its emergency entrance, an entrance, its campus road.

A hospital joined to the road nearest its centre may be joined to the wrong road (a one-way
trunk highway 150 m from the building instead of the campus road behind it). The access point
is chosen, in this order: an emergency entrance (``entrance=emergency``, an entrance node with
``emergency=yes``, or ``emergency=emergency_ward_entrance``) inside the hospital's area (within
:data:`POINT_HOSPITAL_RADIUS_M` of a hospital mapped as a point); an entrance node on the
area's outline; the campus road inside the area nearest the hospital's centre; else the road
nearest the centre, with the snap distance recorded and flagged beyond
:data:`FAR_SNAP_FLAG_M`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routing.errors import RegionImportError
from routing.graph import RoadGraph, haversine_m
from routing.snap import EdgeSnapper

#: An emergency entrance this close to a hospital mapped as a single node belongs to it.
POINT_HOSPITAL_RADIUS_M = 250.0
#: An entrance node this close to the area's outline is on it (outline vertices: 0 m).
ON_OUTLINE_M = 3.0
#: A hospital whose access point is farther than this from any road is flagged for review.
FAR_SNAP_FLAG_M = 100.0
_EMERGENCY_VALUES = frozenset({"yes", "designated", "emergency_ward_entrance"})


@dataclass(frozen=True, slots=True)
class HospitalPOI:
    """A hospital as tagged in OSM (``amenity=hospital``), with its area and entrances."""

    osm_id: int
    osm_type: str
    name: str | None
    emergency: str | None
    lat: float
    lng: float
    """The centre (a node's position, an area's centroid, or a point inside when it is not)."""
    outline: Any = None
    """shapely (Multi)Polygon of a hospital mapped as an area, else None."""
    entrances: tuple[tuple[float, float, bool], ...] = ()
    """(lat, lng, is_emergency) of the entrance nodes that belong to it."""


@dataclass(frozen=True, slots=True)
class HospitalAccess:
    """The point where a hospital is reached from the road network, and how it was chosen."""

    lat: float
    lng: float
    kind: str
    """``emergency_entrance``, ``entrance``, ``campus_road`` or ``nearest_road``."""
    snap_distance_m: float
    """From the access point to the road it joins."""

    @property
    def flagged(self) -> bool:
        """Too far from any road to trust the ETA without review."""
        return self.snap_distance_m > FAR_SNAP_FLAG_M


def _processor(path: Path) -> Any:
    import osmium

    if not path.is_file():
        raise RegionImportError(f"{path}: no such OSM extract")
    if path.stat().st_size == 0:
        raise RegionImportError(f"{path}: the OSM extract is empty")
    return osmium


def hospital_pois(pbf_path: str | Path) -> list[HospitalPOI]:
    """
    List the hospitals (``amenity=hospital``) of an extract, with their areas and entrances.

    Parameters
    ----------
    pbf_path : str or pathlib.Path
        Path of the ``.osm.pbf`` extract.

    Returns
    -------
    list of HospitalPOI
        Nodes keep their position; areas (closed ways, multipolygons) their representative
        point and outline. An extract without hospitals gives an empty list.

    Raises
    ------
    RegionImportError
        The file is missing, empty or not a PBF.
    """
    import shapely
    from shapely import wkb

    path = Path(pbf_path)
    osmium = _processor(path)
    from osmium.filter import KeyFilter, TagFilter

    hospital = ("amenity", "hospital")
    factory = osmium.geom.WKBFactory()
    found: list[HospitalPOI] = []
    entrances: list[tuple[float, float, bool]] = []
    try:
        objects = (
            osmium.FileProcessor(str(path))
            .with_areas(TagFilter(hospital))
            .with_filter(TagFilter(hospital))
        )
        for obj in objects:
            tags = {t.k: t.v for t in obj.tags}
            if obj.is_node() and obj.location.valid():
                found.append(_poi(obj.id, "node", tags, obj.location.lat, obj.location.lon))
            elif obj.is_area():
                outline = wkb.loads(bytes.fromhex(factory.create_multipolygon(obj)))
                if outline.is_empty:
                    continue
                centre = outline.centroid
                if not outline.covers(centre):  # a crescent, a campus in pieces
                    centre = outline.representative_point()
                kind = "way" if obj.from_way() else "relation"
                found.append(
                    _poi(obj.orig_id(), kind, tags, centre.y, centre.x, outline=outline)
                )
        nodes = osmium.FileProcessor(str(path), osmium.osm.NODE).with_filter(
            KeyFilter("entrance", "emergency")
        )
        for node in nodes:
            tags = {t.k: t.v for t in node.tags}
            emergency = (tags.get("emergency") or "").lower()
            entrance = (tags.get("entrance") or "").lower()
            if not entrance and emergency != "emergency_ward_entrance":
                continue
            is_emergency = entrance == "emergency" or emergency in _EMERGENCY_VALUES
            entrances.append((node.location.lat, node.location.lon, is_emergency))
    except Exception as exc:  # pyosmium raises RuntimeError on a broken file
        raise RegionImportError(f"{path}: not a readable OSM extract ({exc})") from exc
    if not entrances:
        return found
    points = shapely.points([(lng, lat) for lat, lng, _ in entrances])
    result = []
    for poi in found:
        mine = _entrances_of(poi, entrances, points)
        result.append(_with_entrances(poi, mine))
    return result


def _poi(
    osm_id: int, osm_type: str, tags: dict[str, str], lat: float, lng: float, outline: Any = None
) -> HospitalPOI:
    return HospitalPOI(
        osm_id=int(osm_id),
        osm_type=osm_type,
        name=tags.get("name"),
        emergency=tags.get("emergency"),
        lat=float(lat),
        lng=float(lng),
        outline=outline,
    )


def _with_entrances(poi: HospitalPOI, entrances: tuple[tuple[float, float, bool], ...]) -> Any:
    return HospitalPOI(
        poi.osm_id, poi.osm_type, poi.name, poi.emergency, poi.lat, poi.lng, poi.outline, entrances
    )


def _entrances_of(
    poi: HospitalPOI, entrances: list[tuple[float, float, bool]], points: Any
) -> tuple[tuple[float, float, bool], ...]:
    """Emergency entrances inside the area (or near the node); other entrances on its outline."""
    import shapely

    lat = np.array([e[0] for e in entrances])
    lng = np.array([e[1] for e in entrances])
    is_emergency = np.array([e[2] for e in entrances])
    if poi.outline is None:
        near = haversine_m(poi.lat, poi.lng, lat, lng) <= POINT_HOSPITAL_RADIUS_M
        keep = near & is_emergency
    else:
        metres_per_degree = 111_195.0 * math.cos(math.radians(poi.lat))
        on_outline = (
            shapely.distance(poi.outline.boundary, points) * metres_per_degree <= ON_OUTLINE_M
        )
        inside = shapely.covers(poi.outline, points) | on_outline
        keep = (inside & is_emergency) | on_outline
    return tuple(entrances[i] for i in np.flatnonzero(keep))


def hospital_access(
    pois: Sequence[HospitalPOI], graph: RoadGraph, snapper: EdgeSnapper | None = None
) -> list[HospitalAccess]:
    """
    Choose where each hospital is reached from the road network.

    Parameters
    ----------
    pois : sequence of HospitalPOI
    graph : RoadGraph
        The region's driving graph.
    snapper : EdgeSnapper, optional
        Reuse an index built for ``graph``.

    Returns
    -------
    list of HospitalAccess
        One per POI, in order (see the module docstring for the rules).
    """
    import shapely

    snapper = snapper or EdgeSnapper(graph)
    nodes = shapely.points(np.column_stack([graph.node_lon, graph.node_lat]))
    result = []
    for poi in pois:
        chosen = None
        for want_emergency in (True, False):
            candidates = [(la, ln) for la, ln, em in poi.entrances if em or not want_emergency]
            if candidates:
                snaps = [snapper.snap(la, ln) for la, ln in candidates]
                best = int(np.argmin([s.distance_m for s in snaps]))
                kind = "emergency_entrance" if want_emergency else "entrance"
                la, ln = candidates[best]
                chosen = HospitalAccess(la, ln, kind, snaps[best].distance_m)
                break
        if chosen is None and poi.outline is not None:
            inside = np.flatnonzero(shapely.covers(poi.outline, nodes))
            if len(inside):
                far = haversine_m(poi.lat, poi.lng, graph.node_lat[inside], graph.node_lon[inside])
                node = int(inside[int(np.argmin(far))])
                la, ln = float(graph.node_lat[node]), float(graph.node_lon[node])
                chosen = HospitalAccess(la, ln, "campus_road", 0.0)
        if chosen is None:
            snap = snapper.snap(poi.lat, poi.lng)
            chosen = HospitalAccess(poi.lat, poi.lng, "nearest_road", snap.distance_m)
        result.append(chosen)
    return result
