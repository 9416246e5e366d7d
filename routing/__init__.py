"""Road graph and travel-time engine: the library that matches an SOS to hospitals by road time.

Typical use::

    from routing import TravelTimeEngine, build_graph

    graph = build_graph("region.osm.pbf")           # or RoadGraph.load("region.npz")
    engine = TravelTimeEngine(graph, [("h1", 60.17, 24.94), ...])
    engine.precompute()                              # node x hospital table
    snap, eta_s = engine.eta_to_hospitals(60.168, 24.95)
    best = engine.nearest(60.168, 24.95, k=3)

Imports nothing of Lifeline but :mod:`data` (for the ORM base, in :mod:`routing.models`).
"""

from routing.closures import (
    Closure,
    ClosureSet,
    apply_closures,
    close_along_line,
    close_area,
    close_edges,
)
from routing.engine import NearestHospital, Route, TravelTimeEngine
from routing.errors import (
    GraphFormatError,
    InvalidCoordinateError,
    RegionImportError,
    RoutingError,
    UnknownRegionError,
)
from routing.graph import RoadGraph, largest_strong_component
from routing.osm_import import HospitalPOI, build_graph, hospital_pois
from routing.snap import EdgeSnapper, RoadSegments, Snap, road_segments, snap_point
from routing.speeds import default_speed_kmh, parse_maxspeed
from routing.synthetic import synthetic_grid

__all__ = [
    "Closure",
    "ClosureSet",
    "EdgeSnapper",
    "GraphFormatError",
    "HospitalPOI",
    "InvalidCoordinateError",
    "NearestHospital",
    "RegionImportError",
    "RoadGraph",
    "RoadSegments",
    "Route",
    "RoutingError",
    "Snap",
    "TravelTimeEngine",
    "UnknownRegionError",
    "apply_closures",
    "build_graph",
    "close_along_line",
    "close_area",
    "close_edges",
    "default_speed_kmh",
    "hospital_pois",
    "largest_strong_component",
    "parse_maxspeed",
    "road_segments",
    "snap_point",
    "synthetic_grid",
]
