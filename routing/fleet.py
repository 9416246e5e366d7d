"""Travel time from many vehicles to one incident with a single reverse search from the incident."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from routing.engine import TravelTimeEngine
from routing.snap import Snap
from routing.weights import Weights

_transposed: dict[int, tuple[Weights, sp.csr_matrix]] = {}


def _reverse_adjacency(engine: TravelTimeEngine) -> tuple[Weights, sp.csr_matrix]:
    """The transposed weight matrix under the closures in force, cached per weight version."""
    weights = engine.current_weights
    cached = _transposed.get(id(engine))
    if cached is None or cached[0] is not weights:
        cached = (weights, weights.adjacency.T.tocsr())
        _transposed[id(engine)] = cached
    return cached


def times_to_incident(
    engine: TravelTimeEngine,
    lat: float,
    lng: float,
    origins: Sequence[tuple[float, float]],
    *,
    limit_s: float | None = None,
) -> tuple[Snap, NDArray[np.float64], list[Snap]]:
    """
    Road travel time from each origin to the incident, under the closures in force.

    One bounded Dijkstra per end of the incident's road segment on the reversed graph gives the
    time from every node to the incident; each origin is then snapped to its own segment and
    leaves it by whichever end is faster (the same partial-edge convention as
    :meth:`TravelTimeEngine.eta_to_hospitals`).

    Parameters
    ----------
    engine : TravelTimeEngine
    lat, lng : float
        The incident.
    origins : sequence of (lat, lng)
        Vehicle positions.
    limit_s : float, optional
        Search horizon (default: the engine's ``max_eta_s``); farther origins get ``inf``.

    Returns
    -------
    snap : Snap
        The incident's snap.
    eta_s : numpy.ndarray
        Seconds per origin, ``inf`` when it cannot reach the incident within the horizon.
    origin_snaps : list of Snap
    """
    target = engine.snapper.snap(lat, lng)
    weights, reverse = _reverse_adjacency(engine)
    segments = engine.segments
    seg, f = target.segment, target.segment_fraction
    u, v = int(segments.u[seg]), int(segments.v[seg])
    fwd, bwd = float(weights.seg_fwd[seg]), float(weights.seg_bwd[seg])
    limit = limit_s if limit_s is not None else engine.max_eta_s
    starts, offsets = [], []
    if math.isfinite(fwd):  # arrive at u, drive on towards v
        starts.append(u)
        offsets.append(fwd * f)
    if math.isfinite(bwd):  # arrive at v, drive back towards u
        starts.append(v)
        offsets.append(bwd * (1.0 - f))
    snaps = [engine.snapper.snap(o_lat, o_lng) for o_lat, o_lng in origins]
    eta = np.full(len(origins), np.inf)
    if not starts or not origins:
        return target, eta, snaps
    dist = np.atleast_2d(dijkstra(reverse, directed=True, indices=starts, limit=limit))
    to_incident = np.min(dist + np.asarray(offsets)[:, None], axis=0)
    for i, origin in enumerate(snaps):
        s, g = origin.segment, origin.segment_fraction
        a, b = int(segments.u[s]), int(segments.v[s])
        o_fwd, o_bwd = float(weights.seg_fwd[s]), float(weights.seg_bwd[s])
        best = math.inf
        if math.isfinite(o_fwd):
            best = min(best, o_fwd * (1.0 - g) + to_incident[b])
        if math.isfinite(o_bwd):
            best = min(best, o_bwd * g + to_incident[a])
        if s == seg:  # same road segment: drive straight along it if the direction allows
            if g <= f and math.isfinite(fwd):
                best = min(best, (f - g) * fwd)
            if g >= f and math.isfinite(bwd):
                best = min(best, (g - f) * bwd)
        eta[i] = best if best <= limit else math.inf
    return target, eta, snaps
