"""A directed road graph in flat numpy arrays, so even a 1M-node region loads in a blink."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from routing.errors import GraphFormatError

EARTH_RADIUS_M = 6_371_008.8
#: Bumped whenever the ``.npz`` layout changes; older caches are refused, not misread.
CACHE_FORMAT_VERSION = 1
#: Travel times are clamped to this many seconds so a zero-length edge (two OSM nodes at the same
#: position) is still a real edge for ``scipy.sparse.csgraph``, which drops no explicit zeros but
#: whose sparse constructors may.
MIN_TRAVEL_TIME_S = 1e-3

#: Road classes of :attr:`RoadGraph.edge_class` (index = code), as calibrated per class.
ROAD_CLASSES = (
    "other", "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
    "residential", "living_street", "service", "link",
)  # fmt: skip
#: ``highway=*`` values of :attr:`RoadGraph.node_kind` (index = code; 0: none).
NODE_KINDS = ("", "traffic_signals", "stop", "give_way", "crossing")

Int32Array = NDArray[np.int32]
Int64Array = NDArray[np.int64]
FloatArray = NDArray[np.float64]


class TurnRestriction(NamedTuple):
    """
    An OSM ``type=restriction`` relation that binds an ambulance.

    ``only`` is true for ``only_*`` (every other way out of the via is banned), false for
    ``no_*`` (this one is). ``via_nodes`` holds the via node's OSM id, or is empty when the
    via is a sequence of ways (``via_ways``, in order from ``from_way`` to ``to_way``).
    """

    only: bool
    from_way: int
    via_nodes: tuple[int, ...]
    via_ways: tuple[int, ...]
    to_way: int


def haversine_m(
    lat1: Any,
    lng1: Any,
    lat2: Any,
    lng2: Any,
) -> Any:
    """
    Great-circle distance in metres (vectorised).

    Parameters
    ----------
    lat1, lng1, lat2, lng2 : float or array_like
        Coordinates in degrees (WGS84).

    Returns
    -------
    float or numpy.ndarray
        Distance in metres on a sphere of radius :data:`EARTH_RADIUS_M`.
    """
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lng2) - np.asarray(lng1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def build_adjacency(
    n_nodes: int, source: Int32Array, target: Int32Array, weight: FloatArray
) -> tuple[sp.csr_matrix, Int64Array]:
    """
    Build a CSR matrix of edge weights keeping the *minimum* of parallel edges.

    ``scipy.sparse`` sums duplicate entries, which would turn two parallel ways into one slow
    road; here duplicates are resolved before the matrix is built. Edges whose weight is not
    finite (closed roads) are left out.

    Parameters
    ----------
    n_nodes : int
        Matrix dimension.
    source, target : numpy.ndarray
        Node indices of each directed edge.
    weight : numpy.ndarray
        Weight of each directed edge (seconds, metres, ...).

    Returns
    -------
    matrix : scipy.sparse.csr_matrix
        ``n_nodes x n_nodes``, sorted indices, no duplicates, float64.
    entry_edge : numpy.ndarray
        For each stored entry of ``matrix.data``, the index of the edge it came from.
    """
    keep = np.flatnonzero(np.isfinite(weight))
    order = keep[np.lexsort((weight[keep], target[keep], source[keep]))]
    s = source[order].astype(np.int64)
    t = target[order].astype(np.int64)
    first = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        first[1:] = (s[1:] != s[:-1]) | (t[1:] != t[:-1])
    order = order[first]
    s = s[first]
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(s, minlength=n_nodes), out=indptr[1:])
    indices = target[order].astype(np.int32)
    data = np.maximum(weight[order].astype(np.float64), MIN_TRAVEL_TIME_S)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(n_nodes, n_nodes))
    matrix.has_sorted_indices = True
    return matrix, order.astype(np.int64)


@dataclass(eq=False)
class RoadGraph:
    """
    A directed road network: one edge per direction of travel between consecutive OSM nodes.

    Node and edge attributes are parallel numpy arrays (index = node or edge id inside the
    graph). ``adjacency`` (travel time, seconds) and its transpose are built once at
    construction; parallel edges keep their minimum travel time.
    """

    node_osm_id: Int64Array
    node_lon: FloatArray
    node_lat: FloatArray
    edge_source: Int32Array
    edge_target: Int32Array
    edge_length_m: FloatArray
    edge_travel_time_s: FloatArray
    edge_osm_way_id: Int64Array
    geometry_coords: FloatArray
    """``(k, 2)`` lon/lat of every edge's polyline, concatenated."""
    geometry_offsets: Int64Array
    """Edge ``i`` owns ``geometry_coords[geometry_offsets[i]:geometry_offsets[i + 1]]``."""
    name: str = ""
    dropped_nodes: int = 0
    """Nodes removed at import because they were outside the largest strongly connected part."""
    dropped_components: int = 0
    node_kind: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    edge_class: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    """Road class of each edge (index into :data:`ROAD_CLASSES`; 0: other)."""
    """Junction control per node (:data:`NODE_KINDS`: signals, stop, give way, crossing)."""
    restrictions: tuple[TurnRestriction, ...] = ()
    """OSM turn restrictions that concern an ambulance, by OSM way and node ids."""
    country: str | None = None
    """ISO 3166-1 code of the region (its driving side), when known."""
    adjacency: sp.csr_matrix = field(init=False, repr=False)
    adjacency_t: sp.csr_matrix = field(init=False, repr=False)
    adjacency_edge: Int64Array = field(init=False, repr=False)
    """Edge index behind each entry of ``adjacency.data``."""

    def __post_init__(self) -> None:
        self.node_osm_id = np.ascontiguousarray(self.node_osm_id, dtype=np.int64)
        self.node_lon = np.ascontiguousarray(self.node_lon, dtype=np.float64)
        self.node_lat = np.ascontiguousarray(self.node_lat, dtype=np.float64)
        self.edge_source = np.ascontiguousarray(self.edge_source, dtype=np.int32)
        self.edge_target = np.ascontiguousarray(self.edge_target, dtype=np.int32)
        self.edge_length_m = np.ascontiguousarray(self.edge_length_m, dtype=np.float64)
        self.edge_travel_time_s = np.maximum(
            np.asarray(self.edge_travel_time_s, dtype=np.float64), MIN_TRAVEL_TIME_S
        )
        self.edge_osm_way_id = np.ascontiguousarray(self.edge_osm_way_id, dtype=np.int64)
        self.geometry_coords = np.ascontiguousarray(self.geometry_coords, dtype=np.float64)
        self.geometry_offsets = np.ascontiguousarray(self.geometry_offsets, dtype=np.int64)
        n, m = self.n_nodes, len(self.edge_source)
        if len(self.node_kind) != n:
            self.node_kind = np.zeros(n, dtype=np.int8)
        self.node_kind = np.ascontiguousarray(self.node_kind, dtype=np.int8)
        if len(self.edge_class) != m:
            self.edge_class = np.zeros(m, dtype=np.int8)
        self.edge_class = np.ascontiguousarray(self.edge_class, dtype=np.int8)
        if not (len(self.node_lon) == len(self.node_lat) == n):
            raise GraphFormatError("node arrays differ in length")
        lengths = {
            len(a)
            for a in (
                self.edge_target,
                self.edge_length_m,
                self.edge_travel_time_s,
                self.edge_osm_way_id,
            )
        }
        if lengths != {m} or len(self.geometry_offsets) != m + 1:
            raise GraphFormatError("edge arrays differ in length")
        if m and (
            min(self.edge_source.min(), self.edge_target.min()) < 0
            or max(self.edge_source.max(), self.edge_target.max()) >= n
        ):
            raise GraphFormatError("edge refers to a node outside the graph")
        self.adjacency, self.adjacency_edge = build_adjacency(
            n, self.edge_source, self.edge_target, self.edge_travel_time_s
        )
        self.adjacency_t = self.adjacency.transpose().tocsr()

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_osm_id)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.edge_source)

    def edge_coords(self, edge: int) -> FloatArray:
        """Return the ``(k, 2)`` lon/lat polyline of one edge, from source to target."""
        start, end = self.geometry_offsets[edge], self.geometry_offsets[edge + 1]
        return self.geometry_coords[start:end]

    def save(self, path: str | Path) -> Path:
        """
        Write the graph to a single uncompressed ``.npz`` cache.

        Parameters
        ----------
        path : str or pathlib.Path
            Destination; ``.npz`` is appended by numpy when missing.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(
            tmp,
            format_version=np.array(CACHE_FORMAT_VERSION),
            name=np.array(self.name),
            dropped=np.array([self.dropped_nodes, self.dropped_components], dtype=np.int64),
            node_osm_id=self.node_osm_id,
            node_lon=self.node_lon,
            node_lat=self.node_lat,
            edge_source=self.edge_source,
            edge_target=self.edge_target,
            edge_length_m=self.edge_length_m,
            edge_travel_time_s=self.edge_travel_time_s,
            edge_osm_way_id=self.edge_osm_way_id,
            geometry_coords=self.geometry_coords,
            geometry_offsets=self.geometry_offsets,
            node_kind=self.node_kind,
            edge_class=self.edge_class,
            restrictions=np.array(json.dumps([list(r) for r in self.restrictions])),
            country=np.array(self.country or ""),
        )
        tmp.replace(path)  # readers never see a half-written cache
        return path

    @classmethod
    def load(cls, path: str | Path) -> RoadGraph:
        """
        Read a graph written by :meth:`save`.

        Parameters
        ----------
        path : str or pathlib.Path
            The ``.npz`` cache.

        Returns
        -------
        RoadGraph

        Raises
        ------
        GraphFormatError
            The file is missing, unreadable or of another format version.
        """
        try:
            with np.load(Path(path), allow_pickle=False) as npz:
                if int(npz["format_version"]) != CACHE_FORMAT_VERSION:
                    raise GraphFormatError(f"{path}: unsupported cache format")
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise GraphFormatError(f"{path}: cannot read road graph cache ({exc})") from exc
        dropped = arrays.pop("dropped")
        arrays.pop("format_version")
        name = str(arrays.pop("name"))
        # Turn data was added to format 1 later: caches written before it simply lack it.
        restrictions = json.loads(str(arrays.pop("restrictions", "[]")))
        country = str(arrays.pop("country", "")) or None
        return cls(
            **arrays,
            restrictions=tuple(
                TurnRestriction(r[0], r[1], tuple(r[2]), tuple(r[3]), r[4]) for r in restrictions
            ),
            country=country,
            name=name,
            dropped_nodes=int(dropped[0]),
            dropped_components=int(dropped[1]),
        )


def straight_geometry(
    node_lon: FloatArray, node_lat: FloatArray, source: Int32Array, target: Int32Array
) -> tuple[FloatArray, Int64Array]:
    """Geometry arrays for edges that are straight segments between their end nodes."""
    m = len(source)
    coords = np.empty((2 * m, 2), dtype=np.float64)
    coords[0::2, 0] = node_lon[source]
    coords[0::2, 1] = node_lat[source]
    coords[1::2, 0] = node_lon[target]
    coords[1::2, 1] = node_lat[target]
    return coords, np.arange(0, 2 * m + 1, 2, dtype=np.int64)


def subgraph(graph: RoadGraph, keep_nodes: NDArray[np.bool_]) -> RoadGraph:
    """
    Return the graph induced by the nodes where ``keep_nodes`` is true.

    Parameters
    ----------
    graph : RoadGraph
    keep_nodes : numpy.ndarray of bool
        One flag per node.

    Returns
    -------
    RoadGraph
        Nodes renumbered densely, in their original order.
    """
    new_index = np.full(graph.n_nodes, -1, dtype=np.int64)
    kept = np.flatnonzero(keep_nodes)
    new_index[kept] = np.arange(len(kept))
    keep_edges = keep_nodes[graph.edge_source] & keep_nodes[graph.edge_target]
    edges = np.flatnonzero(keep_edges)
    starts = graph.geometry_offsets[edges]
    counts = graph.geometry_offsets[edges + 1] - starts
    offsets = np.zeros(len(edges) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    take = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
    return RoadGraph(
        node_osm_id=graph.node_osm_id[kept],
        node_lon=graph.node_lon[kept],
        node_lat=graph.node_lat[kept],
        edge_source=new_index[graph.edge_source[edges]].astype(np.int32),
        edge_target=new_index[graph.edge_target[edges]].astype(np.int32),
        edge_length_m=graph.edge_length_m[edges],
        edge_travel_time_s=graph.edge_travel_time_s[edges],
        edge_osm_way_id=graph.edge_osm_way_id[edges],
        geometry_coords=graph.geometry_coords[take],
        geometry_offsets=offsets,
        name=graph.name,
        dropped_nodes=graph.dropped_nodes,
        dropped_components=graph.dropped_components,
        node_kind=graph.node_kind[kept],
        edge_class=graph.edge_class[edges],
        restrictions=graph.restrictions,
        country=graph.country,
    )


def largest_strong_component(graph: RoadGraph) -> RoadGraph:
    """
    Keep only the largest strongly connected component.

    Outside it, some node pairs have no route at all (a dead-end one-way, an island of the
    extract), which would make ETAs depend on where an incident happens to snap.

    Parameters
    ----------
    graph : RoadGraph

    Returns
    -------
    RoadGraph
        ``dropped_nodes`` and ``dropped_components`` count what was removed.
    """
    if graph.n_nodes == 0:
        return graph
    n_components, labels = connected_components(graph.adjacency, directed=True, connection="strong")
    sizes = np.bincount(labels)
    keep = labels == int(np.argmax(sizes))
    result = subgraph(graph, keep) if n_components > 1 else graph
    result.dropped_nodes = graph.dropped_nodes + int(graph.n_nodes - keep.sum())
    result.dropped_components = graph.dropped_components + n_components - 1
    return result


__all__ = [
    "EARTH_RADIUS_M",
    "MIN_TRAVEL_TIME_S",
    "NODE_KINDS",
    "ROAD_CLASSES",
    "FloatArray",
    "Int32Array",
    "Int64Array",
    "RoadGraph",
    "TurnRestriction",
    "build_adjacency",
    "haversine_m",
    "largest_strong_component",
    "straight_geometry",
    "subgraph",
]
