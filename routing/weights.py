"""Edge costs under the closures in force and where hospitals join the road: the engine's inputs."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from routing.graph import FloatArray, RoadGraph, build_adjacency
from routing.snap import EdgeSnapper, RoadSegments, Snap
from routing.turns import TurnGraph

log = logging.getLogger(__name__)

#: ``(key, lat, lng)`` of a hospital's road access point (its entrance, or the building).
Hospital = tuple[Hashable, float, float]


@dataclass(frozen=True, eq=False)
class Weights:
    """Edge costs under the closures in force, with everything derived from them."""

    version: int
    edge_time: FloatArray
    adjacency: sp.csr_matrix
    adjacency_edge: NDArray[np.int64]
    seg_fwd: FloatArray  # travel time u -> v of each segment (inf: not drivable)
    seg_bwd: FloatArray
    turn_adjacency: sp.csr_matrix | None = None
    """Arc costs of the edge-based graph under these edge times (engines with turns)."""


@dataclass(frozen=True, eq=False)
class HospitalSet:
    """Hospitals snapped to their road segments, in the order of ETA arrays."""

    version: int
    keys: tuple[Hashable, ...]
    snaps: tuple[Snap, ...]
    segment: NDArray[np.int64]
    fraction: FloatArray  # along the segment from u


def make_weights(
    graph: RoadGraph,
    segments: RoadSegments,
    edge_time: FloatArray,
    version: int,
    *,
    turns: TurnGraph | None = None,
) -> Weights:
    """
    Derive the adjacency matrix and per-segment costs from edge travel times.

    Parameters
    ----------
    graph : RoadGraph
    segments : RoadSegments
        The graph's undirected segments (as used for snapping).
    edge_time : numpy.ndarray
        Seconds per directed edge; ``inf`` closes it.
    version : int
        Stamp of the engine state these weights belong to.
    turns : TurnGraph, optional
        Also derive the edge-based graph's arc costs.

    Returns
    -------
    Weights
    """
    adjacency, adjacency_edge = build_adjacency(
        graph.n_nodes, graph.edge_source, graph.edge_target, edge_time
    )
    seg_fwd = np.full(segments.n_segments, np.inf)
    seg_bwd = np.full(segments.n_segments, np.inf)
    fwd = segments.edge_is_forward
    np.minimum.at(seg_fwd, segments.edge_segment[fwd], edge_time[fwd])
    np.minimum.at(seg_bwd, segments.edge_segment[~fwd], edge_time[~fwd])
    turn_adjacency = None if turns is None else turns.adjacency(edge_time)
    return Weights(version, edge_time, adjacency, adjacency_edge, seg_fwd, seg_bwd, turn_adjacency)


def snap_hospitals(
    snapper: EdgeSnapper, hospitals: Sequence[Hospital], version: int
) -> HospitalSet:
    """
    Snap every hospital to its nearest road segment; one far from any road is logged.

    Parameters
    ----------
    snapper : EdgeSnapper
    hospitals : sequence of (key, lat, lng)
    version : int

    Returns
    -------
    HospitalSet
    """
    keys: list[Hashable] = []
    snaps: list[Snap] = []
    for key, lat, lng in hospitals:
        snap = snapper.snap(lat, lng)
        if snap.off_network:
            log.warning("hospital %r is %.0f m from the nearest road", key, snap.distance_m)
        keys.append(key)
        snaps.append(snap)
    return HospitalSet(
        version=version,
        keys=tuple(keys),
        snaps=tuple(snaps),
        segment=np.array([s.segment for s in snaps], dtype=np.int64),
        fraction=np.array([s.segment_fraction for s in snaps], dtype=np.float64),
    )
