"""Who covers which demand within a threshold: the coverage figure and each unit's share of it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Coverage:
    """Demand-weighted coverage of one fleet position, as shares in [0, 1]."""

    threshold_s: float
    share_any: float
    share_als: float
    uncovered: NDArray[np.int64]  # cell indices no unit reaches in time
    marginal: NDArray[np.float64]  # per unit: demand only it covers (lost if it leaves)
    covering: NDArray[np.int32]  # per cell: how many units reach it in time


def measure(
    times: NDArray[np.floating],
    weight: NDArray[np.float64],
    threshold_s: float,
    *,
    is_als: NDArray[np.bool_] | None = None,
) -> Coverage:
    """
    Coverage of the cells by the units whose road times are the rows of ``times``.

    Parameters
    ----------
    times : (n_units, n_cells) array
        Seconds from each available unit to each cell (``inf``: not within the search).
    weight : (n_cells,) array
        Demand weights, summing to 1.
    threshold_s : float
        A cell is covered when at least one unit reaches it in at most this many seconds.
    is_als : (n_units,) bool array, optional
        Which units are ALS (``share_als`` counts only them).
    """
    times = np.asarray(times)
    n_units = times.shape[0]
    if n_units == 0:
        return Coverage(
            threshold_s, 0.0, 0.0, np.arange(len(weight), dtype=np.int64),
            np.zeros(0), np.zeros(len(weight), dtype=np.int32),
        )
    reach = times <= threshold_s
    count = reach.sum(axis=0, dtype=np.int32)
    covered = count > 0
    als = np.zeros(n_units, dtype=bool) if is_als is None else np.asarray(is_als, dtype=bool)
    als_covered = reach[als].any(axis=0) if als.any() else np.zeros(len(weight), dtype=bool)
    sole = reach & (count == 1)[None, :]
    return Coverage(
        threshold_s=threshold_s,
        share_any=float(weight[covered].sum()),
        share_als=float(weight[als_covered].sum()),
        uncovered=np.flatnonzero(~covered),
        marginal=sole.astype(np.float64) @ weight,
        covering=count,
    )
