"""Areas reachable within N minutes from (or to) a point, for coverage maps and station planning."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import contourpy
import numpy as np
import shapely
from scipy.ndimage import binary_dilation
from scipy.sparse.csgraph import dijkstra

from routing.graph import FloatArray
from routing.search import search_from

if TYPE_CHECKING:
    from routing.engine import TravelTimeEngine

#: Raster cell of the reached area (degrees; about 110 m north-south): a block's size, so the
#: area follows the streets and leaves out what lies a block away from any reached road.
CELL_DEG = 0.001
#: Bands a request may ask for, and the longest one (minutes).
MAX_BANDS = 6
MAX_MINUTES = 60.0

Direction = Literal["from", "to"]


def node_times(engine: TravelTimeEngine, lat: float, lng: float, *, direction: Direction,
               limit_s: float) -> FloatArray:  # fmt: skip
    """Seconds from the point to every node (``from``) or from every node to it (``to``)."""
    snap = engine.snapper.snap(lat, lng)
    w = engine.current_weights
    if direction == "from":
        times, _, _ = search_from(
            engine.graph, engine.segments, snap, w, limit_s, predecessors=False
        )
        return times
    seg, f = snap.segment, snap.segment_fraction
    starts: list[int] = []
    offsets: list[float] = []
    fwd, bwd = float(w.seg_fwd[seg]), float(w.seg_bwd[seg])
    if math.isfinite(fwd):  # arrive at u, drive on towards the point
        starts.append(int(engine.segments.u[seg]))
        offsets.append(fwd * f)
    if math.isfinite(bwd):
        starts.append(int(engine.segments.v[seg]))
        offsets.append(bwd * (1.0 - f))
    if not starts:
        return np.full(engine.graph.n_nodes, np.inf)
    reverse = w.adjacency.transpose().tocsr()
    dist = np.atleast_2d(dijkstra(reverse, directed=True, indices=starts, limit=limit_s))
    result: FloatArray = np.min(dist + np.asarray(offsets)[:, None], axis=0)
    return result


def isochrones(
    engine: TravelTimeEngine,
    lat: float,
    lng: float,
    minutes: Sequence[float],
    *,
    direction: Direction = "from",
) -> dict[str, Any]:
    """
    The areas reachable within each number of minutes, under the closures in force.

    Each band outlines the road points reached (every reached junction, and the point partway
    along each edge where the time runs out) on a raster of :data:`CELL_DEG` cells, holes
    included (:func:`reached_area`).

    Parameters
    ----------
    engine : TravelTimeEngine
    lat, lng : float
        The point (a station, an incident).
    minutes : sequence of float
        Up to :data:`MAX_BANDS` values in (0, :data:`MAX_MINUTES`].
    direction : {"from", "to"}
        Drive away from the point, or towards it (where an ambulance can reach it from).

    Returns
    -------
    dict
        GeoJSON ``FeatureCollection``, one ``Polygon``/``MultiPolygon`` feature per band
        (``minutes`` property), smallest first; an empty geometry when nothing is reached.

    Raises
    ------
    ValueError
        Bad minutes or direction.
    """
    bands = sorted({float(m) for m in minutes})
    if not bands or len(bands) > MAX_BANDS or not all(0 < m <= MAX_MINUTES for m in bands):
        raise ValueError(f"minutes: 1 to {MAX_BANDS} values in (0, {MAX_MINUTES:g}]")
    if direction not in ("from", "to"):
        raise ValueError("direction must be 'from' or 'to'")
    graph = engine.graph
    times = node_times(engine, lat, lng, direction=direction, limit_s=bands[-1] * 60.0)
    w = engine.current_weights
    src, tgt = graph.edge_source, graph.edge_target
    # "from": leave the reached end, the source; "to": the reached end is the target.
    near, far = (src, tgt) if direction == "from" else (tgt, src)
    features = []
    for band in bands:
        limit = band * 60.0
        reached = times <= limit
        partial = reached[near] & ~reached[far] & np.isfinite(w.edge_time)
        share = np.clip((limit - times[near[partial]]) / w.edge_time[partial], 0.0, 1.0)
        lon = graph.node_lon[near[partial]] + share * (
            graph.node_lon[far[partial]] - graph.node_lon[near[partial]]
        )
        lat_p = graph.node_lat[near[partial]] + share * (
            graph.node_lat[far[partial]] - graph.node_lat[near[partial]]
        )
        points = np.column_stack(
            [
                np.concatenate([graph.node_lon[reached], lon]),
                np.concatenate([graph.node_lat[reached], lat_p]),
            ]
        )
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "minutes": band,
                    "direction": direction,
                    "nodes": int(reached.sum()),
                },
                "geometry": shapely.geometry.mapping(reached_area(points)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def reached_area(points: FloatArray, *, cell_deg: float = CELL_DEG) -> Any:
    """
    The area around reached road points: cells holding a point, grown by one cell, outlined.

    A raster rather than a concave hull of the points: 30 times faster on a city, and
    unreached blocks inside (a park, a closed district) come out as holes by construction.

    Parameters
    ----------
    points : numpy.ndarray
        ``(k, 2)`` lon/lat.
    cell_deg : float
        Cell size in degrees.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        Empty when there are no points.
    """
    if len(points) == 0:
        return shapely.Polygon()
    ij = np.floor(points / cell_deg).astype(np.int64)
    origin = ij.min(axis=0) - 2
    ij -= origin
    grid = np.zeros(tuple(ij.max(axis=0) + 3), dtype=bool)
    grid[ij[:, 0], ij[:, 1]] = True
    grown = binary_dilation(grid, iterations=1).astype(np.float64)
    xs = (np.arange(grown.shape[0]) + origin[0] + 0.5) * cell_deg
    ys = (np.arange(grown.shape[1]) + origin[1] + 0.5) * cell_deg
    generator = contourpy.contour_generator(
        x=xs, y=ys, z=grown.T, fill_type=contourpy.FillType.OuterOffset
    )
    filled: Any = generator.filled(0.5, 2.0)  # OuterOffset: (points, offsets) per polygon
    shells, offsets = filled[0], filled[1]
    polygons = []
    for coords, offset in zip(shells, offsets, strict=True):
        rings = [coords[offset[i] : offset[i + 1]] for i in range(len(offset) - 1)]
        polygons.append(shapely.Polygon(rings[0], rings[1:]))
    if len(polygons) == 1:
        return polygons[0]
    return shapely.MultiPolygon(polygons)
