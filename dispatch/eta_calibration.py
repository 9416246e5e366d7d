"""The fleet's completed runs (dispatch to on scene, with their GPS trails) for ETA calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.models import EmergencyCase, EmergencyDispatch, UnitPosition
from routing.calibration import Calibration, Fix, Run
from routing.graph import ROAD_CLASSES
from routing.speed_factors import hour_of_week

#: A run needs this many fixes to be matched (the trail keeps one per 30 s or 200 m).
MIN_FIXES = 3


def completed_runs(*, session: Session, region: str) -> list[Run]:
    """
    Every run of the region's cases with a unit, en route and on scene times, and a trail.

    The trail is the unit's stored positions between ``en_route_at`` and ``on_scene_at``.
    """
    rows = session.execute(
        select(
            EmergencyDispatch.unit_id, EmergencyDispatch.en_route_at, EmergencyDispatch.on_scene_at
        )
        .join(EmergencyCase, EmergencyCase.id == EmergencyDispatch.case_id)
        .where(
            EmergencyCase.region == region,
            EmergencyDispatch.unit_id.is_not(None),
            EmergencyDispatch.en_route_at.is_not(None),
            EmergencyDispatch.on_scene_at.is_not(None),
        )
    ).all()
    runs = []
    for unit_id, started, arrived in rows:
        points = session.execute(
            select(UnitPosition.position, UnitPosition.recorded_at)
            .where(
                UnitPosition.unit_id == unit_id,
                UnitPosition.recorded_at >= started,
                UnitPosition.recorded_at <= arrived,
            )
            .order_by(UnitPosition.recorded_at)
        ).all()
        if len(points) < MIN_FIXES:
            continue
        fixes = []
        for position, at in points:
            point = to_shape(position)
            fixes.append(Fix(float(point.y), float(point.x), at.timestamp()))
        runs.append(Run(tuple(fixes), hour_of_week(started)))
    return runs


def save_factors(result: Calibration, path: Path) -> Path:
    """Write the factors (class -> 168 hourly values) next to the region's graph cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "error_before_s": result.error_before_s,
        "error_after_s": result.error_after_s,
        "runs_fitted": result.runs_fitted,
        "runs_held_back": result.runs_held_back,
        "factors": {
            name: np.round(result.factors[i], 4).tolist()
            for i, name in enumerate(ROAD_CLASSES)
            if not np.allclose(result.factors[i], 1.0)
        },
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=1))
    tmp.replace(path)
    return path
