"""Apply the speed factors the fleet's GPS trails taught (``lifeline eta calibrate``) to ETAs.

:func:`routing.calibration.calibrate` fits a speed multiplier per road class and hour of the
week and judges it on held-back runs; the CLI writes it only when it reduced their error. The
engine divides each edge's time by its class's factor for the current hour (UTC, as the
calibration counts hours) and re-weighs when the hour's factors change.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from routing.graph import ROAD_CLASSES, FloatArray, RoadGraph

log = logging.getLogger(__name__)

HOURS_OF_WEEK = 168


def hour_of_week(at: datetime) -> int:
    """0 for Monday 00:00-01:00 ... 167 for Sunday 23:00 (the time zone of ``at``)."""
    return at.weekday() * 24 + at.hour


def load_factors(path: Path) -> FloatArray | None:
    """
    The factors a calibration wrote, if they are worth applying.

    Parameters
    ----------
    path : pathlib.Path
        The JSON file of :func:`dispatch.eta_calibration.save_factors`.

    Returns
    -------
    numpy.ndarray or None
        ``(len(ROAD_CLASSES), 168)`` speed multipliers (classes not in the file: 1.0); None
        when there is no file, it cannot be read, or its held-back error after is not below
        the error before (the issue's rule: apply only what helped).
    """
    try:
        body = json.loads(path.read_text())
        before, after = float(body["error_before_s"]), float(body["error_after_s"])
        factors = np.ones((len(ROAD_CLASSES), HOURS_OF_WEEK))
        for name, values in body["factors"].items():
            factors[ROAD_CLASSES.index(name)] = np.asarray(values, dtype=np.float64)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("speed factors %s unreadable (%s): not applied", path, exc)
        return None
    if not (after < before) or not np.all(np.isfinite(factors)) or np.any(factors <= 0):
        log.warning("speed factors %s did not reduce the held-back error: not applied", path)
        return None
    return factors


def edge_times(graph: RoadGraph, factors: FloatArray | None, at: datetime) -> FloatArray:
    """Each edge's travel time at ``at``: the model's, divided by its class's factor."""
    if factors is None:
        return graph.edge_travel_time_s
    times: FloatArray = graph.edge_travel_time_s / factors[graph.edge_class, hour_of_week(at)]
    return times


def next_change(factors: FloatArray | None, at: datetime) -> float:
    """Unix time of the next hour whose factors differ from those at ``at`` (inf: never)."""
    if factors is None:
        return math.inf
    at = at.astimezone(UTC)
    hour = hour_of_week(at)
    start = at.replace(minute=0, second=0, microsecond=0)
    for ahead in range(1, HOURS_OF_WEEK):
        if not np.array_equal(factors[:, (hour + ahead) % HOURS_OF_WEEK], factors[:, hour]):
            return (start + timedelta(hours=ahead)).timestamp()
    return math.inf


def factors_path(data_dir: str | Path, region: str) -> Path:
    """Where ``lifeline eta calibrate`` keeps a region's factors (beside its graph cache)."""
    return Path(data_dir) / "regions" / f"{region}.eta_factors.json"
