"""Temporary road closures (a blocked street, a flood) that ETAs route around until they expire."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from routing.graph import EARTH_RADIUS_M, FloatArray, RoadGraph
from routing.snap import road_segments

ClosureKind = Literal["segment", "area"]


@dataclass(frozen=True, eq=False)
class Closure:
    """
    A set of directed edges that cannot be driven until ``expires_at`` (``None``: until lifted).

    Build one with :func:`close_edges`, :func:`close_along_line` or :func:`close_area`.
    ``geometry`` (lon/lat, shapely) is what the dispatcher drew, kept for storage and display.
    """

    edges: NDArray[np.int64]
    expires_at: datetime | None = None
    kind: ClosureKind = "segment"
    reason: str = ""
    geometry: BaseGeometry | None = None
    closure_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def is_active(self, now: datetime) -> bool:
        """Whether the closure still applies at ``now`` (timezone-aware)."""
        return self.expires_at is None or now < self.expires_at


def _with_reverse(graph: RoadGraph, edges: NDArray[np.int64]) -> NDArray[np.int64]:
    segments = road_segments(graph)
    touched = np.zeros(segments.n_segments, dtype=bool)
    touched[segments.edge_segment[edges]] = True
    return np.flatnonzero(touched[segments.edge_segment])


def close_edges(
    graph: RoadGraph,
    edges: ArrayLike,
    *,
    expires_at: datetime | None = None,
    both_directions: bool = True,
    reason: str = "",
    closure_id: str | None = None,
) -> Closure:
    """
    Close the given directed edges.

    Parameters
    ----------
    graph : RoadGraph
    edges : array_like of int
        Edge indices of ``graph``.
    expires_at : datetime, optional
        Timezone-aware end of the closure; ``None`` keeps it until lifted.
    both_directions : bool
        Also close the opposite direction (and parallel edges) of each road segment: a blocked
        street is blocked both ways.
    reason : str
        Free text for the dispatchers.
    closure_id : str, optional
        Identifier (a new UUID by default).

    Returns
    -------
    Closure
    """
    idx = np.unique(np.asarray(edges, dtype=np.int64).ravel())
    if len(idx) and (idx[0] < 0 or idx[-1] >= graph.n_edges):
        raise IndexError("edge index outside the graph")
    if both_directions and len(idx):
        idx = _with_reverse(graph, idx)
    return Closure(
        edges=idx,
        expires_at=_aware(expires_at),
        kind="segment",
        reason=reason,
        closure_id=closure_id or str(uuid.uuid4()),
    )


def _aware(when: datetime | None) -> datetime | None:
    if when is not None and when.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    return when


def _project(graph: RoadGraph) -> tuple[float, float, float, float]:
    lat0 = float(np.mean(graph.node_lat)) if graph.n_nodes else 0.0
    lng0 = float(np.mean(graph.node_lon)) if graph.n_nodes else 0.0
    ky = math.radians(1.0) * EARTH_RADIUS_M
    return lat0, lng0, ky * math.cos(math.radians(lat0)), ky


def close_along_line(
    graph: RoadGraph,
    line: BaseGeometry | Sequence[tuple[float, float]],
    *,
    tolerance_m: float = 10.0,
    expires_at: datetime | None = None,
    reason: str = "",
    closure_id: str | None = None,
) -> Closure:
    """
    Close the road segments drawn along a line.

    An edge is closed when its midpoint lies within ``tolerance_m`` of the line, so the streets
    the line runs along are closed while the side streets it merely crosses stay open.

    Parameters
    ----------
    graph : RoadGraph
    line : shapely geometry or sequence of (lng, lat)
        The closed stretch, in lon/lat (GeoJSON order).
    tolerance_m : float
        How far from the line an edge midpoint may lie.
    expires_at, reason, closure_id
        See :func:`close_edges`.

    Returns
    -------
    Closure
        Both directions of every matched segment are closed.
    """
    geom = line if isinstance(line, BaseGeometry) else shapely.LineString(list(line))
    lat0, lng0, kx, ky = _project(graph)
    coords = shapely.get_coordinates(geom)
    local = shapely.transform(
        geom, lambda c: np.column_stack(((c[:, 0] - lng0) * kx, (c[:, 1] - lat0) * ky))
    )
    mid = _edge_midpoints(graph)
    mx, my = (mid[:, 0] - lng0) * kx, (mid[:, 1] - lat0) * ky
    pad = tolerance_m
    near = np.flatnonzero(
        (mx >= (coords[:, 0].min() - lng0) * kx - pad)
        & (mx <= (coords[:, 0].max() - lng0) * kx + pad)
        & (my >= (coords[:, 1].min() - lat0) * ky - pad)
        & (my <= (coords[:, 1].max() - lat0) * ky + pad)
    )
    points = shapely.points(mx[near], my[near])
    hit = near[shapely.dwithin(local, points, tolerance_m)]
    closure = close_edges(graph, hit, expires_at=expires_at, reason=reason, closure_id=closure_id)
    return Closure(
        edges=closure.edges,
        expires_at=closure.expires_at,
        kind="segment",
        reason=reason,
        geometry=geom,
        closure_id=closure.closure_id,
    )


def _edge_midpoints(graph: RoadGraph) -> FloatArray:
    starts = graph.geometry_coords[graph.geometry_offsets[:-1]]
    ends = graph.geometry_coords[graph.geometry_offsets[1:] - 1]
    return (starts + ends) / 2


def close_area(
    graph: RoadGraph,
    area: BaseGeometry,
    *,
    expires_at: datetime | None = None,
    reason: str = "",
    closure_id: str | None = None,
) -> Closure:
    """
    Close every edge that enters an area (flood, fire, cordon).

    Parameters
    ----------
    graph : RoadGraph
    area : shapely Polygon or MultiPolygon
        In lon/lat.
    expires_at, reason, closure_id
        See :func:`close_edges`.

    Returns
    -------
    Closure
    """
    xmin, ymin, xmax, ymax = area.bounds
    starts = graph.geometry_coords[graph.geometry_offsets[:-1]]
    ends = graph.geometry_coords[graph.geometry_offsets[1:] - 1]
    lo = np.minimum(starts, ends)
    hi = np.maximum(starts, ends)
    cand = np.flatnonzero(
        (hi[:, 0] >= xmin) & (lo[:, 0] <= xmax) & (hi[:, 1] >= ymin) & (lo[:, 1] <= ymax)
    )
    offsets = graph.geometry_offsets
    counts = offsets[cand + 1] - offsets[cand]
    take = np.repeat(offsets[cand] - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
    lines = shapely.linestrings(
        graph.geometry_coords[take], indices=np.repeat(np.arange(len(cand)), counts)
    )
    shapely.prepare(area)
    hit = cand[shapely.intersects(area, lines)]
    return Closure(
        edges=np.unique(hit.astype(np.int64)),
        expires_at=_aware(expires_at),
        kind="area",
        reason=reason,
        geometry=area,
        closure_id=closure_id or str(uuid.uuid4()),
    )


class ClosureSet:
    """The closures known for one region, with their expiry."""

    def __init__(self, closures: Iterable[Closure] = ()) -> None:
        self._closures: dict[str, Closure] = {c.closure_id: c for c in closures}

    def add(self, closure: Closure) -> None:
        """Add (or replace, by id) a closure."""
        self._closures[closure.closure_id] = closure

    def lift(self, closure_id: str) -> bool:
        """Remove a closure before it expires; return whether it existed."""
        return self._closures.pop(closure_id, None) is not None

    def active(self, now: datetime | None = None) -> list[Closure]:
        """Closures in force at ``now`` (default: the current time)."""
        now = now or datetime.now(UTC)
        return [c for c in self._closures.values() if c.is_active(now)]

    def prune(self, now: datetime | None = None) -> list[Closure]:
        """Forget expired closures and return them."""
        now = now or datetime.now(UTC)
        gone = [c for c in self._closures.values() if not c.is_active(now)]
        for c in gone:
            del self._closures[c.closure_id]
        return gone

    def next_expiry(self, now: datetime | None = None) -> datetime | None:
        """Earliest future expiry among active closures, if any."""
        ends = [c.expires_at for c in self.active(now) if c.expires_at is not None]
        return min(ends) if ends else None

    def __iter__(self) -> Iterator[Closure]:
        return iter(list(self._closures.values()))

    def __len__(self) -> int:
        return len(self._closures)


def apply_closures(
    weights: FloatArray, closures: Iterable[Closure], *, now: datetime | None = None
) -> FloatArray:
    """
    Return a copy of per-edge weights with the edges of active closures set to ``inf``.

    The closure works on per-edge weights rather than on the CSR data, because one CSR entry
    stands for the fastest of possibly several parallel edges; the CSR is rebuilt from the
    result (:func:`routing.graph.build_adjacency` leaves infinite edges out).

    Parameters
    ----------
    weights : numpy.ndarray
        Travel time (or any cost) per directed edge.
    closures : iterable of Closure
    now : datetime, optional
        Only closures active at ``now`` apply (default: the current time).

    Returns
    -------
    numpy.ndarray
    """
    now = now or datetime.now(UTC)
    result = np.array(weights, dtype=np.float64, copy=True)
    for closure in closures:
        if closure.is_active(now) and len(closure.edges):
            result[closure.edges] = np.inf
    return result
