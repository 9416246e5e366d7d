"""Demand grid: where calls come from, so coverage is weighted by people in need, not by area."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_CELL_SIZE_M = 250.0
#: Gaussian kernel width (standard deviation) applied to past calls.
DEFAULT_BANDWIDTH_M = 500.0
#: Share of demand spread by road density: every road cell keeps at least this share of its
#: road-length share, so a quiet district or a brand-new region is never weighted zero.
DEFAULT_PRIOR_SHARE = 0.2

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DemandGrid:
    """Square cells that hold roads, each with a demand weight (the weights sum to 1)."""

    cell_size_m: float
    origin_lat: float  # the lattice's south-west corner and projection reference
    origin_lng: float
    ix: NDArray[np.int32]
    iy: NDArray[np.int32]
    lat: FloatArray  # cell centre
    lng: FloatArray
    node: NDArray[np.int64]  # road node (graph index) standing for the cell
    weight: FloatArray
    case_count: int = 0

    @property
    def n_cells(self) -> int:
        """Number of cells with roads."""
        return len(self.weight)

    def polygons(self, cells: NDArray[np.int64] | list[int]) -> list[list[list[float]]]:
        """Each cell's square as a closed GeoJSON ring of [lng, lat] (computed as one array)."""
        kx, ky = _scales(self.origin_lat)
        cells = np.asarray(cells, dtype=np.int64)
        corner_x = np.array([0, 1, 1, 0, 0])
        corner_y = np.array([0, 0, 1, 1, 0])
        x = (self.ix[cells][:, None] + corner_x[None, :]) * self.cell_size_m
        y = (self.iy[cells][:, None] + corner_y[None, :]) * self.cell_size_m
        ring = np.stack([np.round(self.origin_lng + x / kx, 6),
                         np.round(self.origin_lat + y / ky, 6)], axis=-1)
        return ring.tolist()

    def to_json(self) -> dict[str, Any]:
        """Columns for storage (node indices are graph-specific: stored as lat/lng only)."""
        return {
            "cell_size_m": self.cell_size_m,
            "origin": [self.origin_lat, self.origin_lng],
            "ix": self.ix.tolist(),
            "iy": self.iy.tolist(),
            "weight": [round(float(w), 10) for w in self.weight],
            "case_count": self.case_count,
        }


def _scales(lat0: float) -> tuple[float, float]:
    """Metres per degree of longitude and latitude around ``lat0`` (equirectangular)."""
    ky = math.pi / 180 * EARTH_RADIUS_M
    return ky * math.cos(math.radians(lat0)), ky


def build_demand_grid(
    node_lat: FloatArray,
    node_lng: FloatArray,
    *,
    edge_source: NDArray[np.integer[Any]] | None = None,
    edge_length_m: FloatArray | None = None,
    case_lat: FloatArray | None = None,
    case_lng: FloatArray | None = None,
    cell_size_m: float = DEFAULT_CELL_SIZE_M,
    bandwidth_m: float = DEFAULT_BANDWIDTH_M,
    prior_share: float = DEFAULT_PRIOR_SHARE,
) -> DemandGrid:
    """
    Cells of ``cell_size_m`` holding road nodes, weighted by smoothed past calls and road length.

    ``weight = (1 - prior_share) * kde + prior_share * road`` where ``kde`` is the case count
    per cell convolved with a Gaussian of ``bandwidth_m`` and ``road`` the road metres per cell
    (edges counted at their source node; node count when no edges are given), each normalised
    to sum 1 over the road cells. With no cases the weight is ``road`` alone. Cells without a
    road are left out: an ambulance cannot reach them and nobody calls from them by road.
    The result is deterministic for the same inputs.
    """
    if not 0.0 <= prior_share <= 1.0:
        raise ValueError("prior_share must lie in [0, 1]")
    if cell_size_m <= 0 or bandwidth_m < 0:
        raise ValueError("cell_size_m must be positive and bandwidth_m not negative")
    node_lat = np.asarray(node_lat, dtype=np.float64)
    node_lng = np.asarray(node_lng, dtype=np.float64)
    lat0, lng0 = float(node_lat.min()), float(node_lng.min())
    kx, ky = _scales(lat0)
    nx = np.floor((node_lng - lng0) * kx / cell_size_m).astype(np.int64)
    ny = np.floor((node_lat - lat0) * ky / cell_size_m).astype(np.int64)
    width, height = int(nx.max()) + 1, int(ny.max()) + 1
    flat = ny * width + nx
    cells, cell_of_node = np.unique(flat, return_inverse=True)
    iy, ix = np.divmod(cells, width)
    if edge_source is not None and edge_length_m is not None:
        road = np.bincount(
            cell_of_node[np.asarray(edge_source, dtype=np.int64)],
            weights=np.asarray(edge_length_m, dtype=np.float64),
            minlength=len(cells),
        )
    else:
        road = np.bincount(cell_of_node, minlength=len(cells)).astype(np.float64)
    if road.sum() <= 0:
        road = np.ones(len(cells))
    road = road / road.sum()
    weight = road
    n_cases = 0
    if case_lat is not None and case_lng is not None and len(case_lat):
        cx = np.floor((np.asarray(case_lng) - lng0) * kx / cell_size_m).astype(np.int64)
        cy = np.floor((np.asarray(case_lat) - lat0) * ky / cell_size_m).astype(np.int64)
        inside = (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
        n_cases = int(inside.sum())
        if n_cases:
            lattice = np.zeros((height, width))
            np.add.at(lattice, (cy[inside], cx[inside]), 1.0)
            smooth = gaussian_filter(lattice, sigma=bandwidth_m / cell_size_m, mode="constant")
            kde = smooth.ravel()[cells]
            if kde.sum() > 0:
                weight = (1.0 - prior_share) * kde / kde.sum() + prior_share * road
    # The node nearest each cell's centre stands for the cell.
    cx_m = (ix + 0.5) * cell_size_m
    cy_m = (iy + 0.5) * cell_size_m
    dx = (node_lng - lng0) * kx - cx_m[cell_of_node]
    dy = (node_lat - lat0) * ky - cy_m[cell_of_node]
    d2 = dx * dx + dy * dy
    order = np.lexsort((d2, cell_of_node))
    first = np.ones(len(order), dtype=bool)
    first[1:] = cell_of_node[order][1:] != cell_of_node[order][:-1]
    node = order[first].astype(np.int64)
    return DemandGrid(
        cell_size_m=float(cell_size_m),
        origin_lat=lat0,
        origin_lng=lng0,
        ix=ix.astype(np.int32),
        iy=iy.astype(np.int32),
        lat=lat0 + cy_m / ky,
        lng=lng0 + cx_m / kx,
        node=node,
        weight=weight / weight.sum(),
        case_count=n_cases,
    )
