"""Response-time figures an ambulance service is judged by, computed in SQL from the timestamps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

INTERVALS = {
    "call_to_dispatch": ("c.raised_at", "c.dispatched_at"),
    "dispatch_to_on_scene": ("c.dispatched_at", "coalesce(d.on_scene_at, c.arrived_at)"),
    "on_scene_to_hospital": ("coalesce(d.on_scene_at, c.arrived_at)", "d.at_hospital_at"),
    "arrival_to_handover": ("d.at_hospital_at", "d.handover_at"),
}

_QUERY = """
WITH spans AS (
    SELECT {columns},
           extract(epoch FROM coalesce(d.on_scene_at, c.arrived_at) - c.raised_at) AS to_scene
    FROM emergency_cases c
    LEFT JOIN LATERAL (
        -- Several units may work one case: the response is the FIRST unit on scene.
        SELECT min(x.on_scene_at) AS on_scene_at, min(x.at_hospital_at) AS at_hospital_at,
               min(x.handover_at) AS handover_at
        FROM emergency_dispatches x WHERE x.case_id = c.id
    ) d ON true
    -- A linked call is one more call about an incident, not one more response to it.
    WHERE c.raised_at >= :since AND (CAST(:region AS text) IS NULL OR c.region = :region)
      AND c.linked_to IS NULL
)
SELECT count(*) AS cases, {aggregates},
       avg(CASE WHEN to_scene IS NULL THEN NULL WHEN to_scene <= 480 THEN 1.0 ELSE 0.0 END)
           AS within_8,
       avg(CASE WHEN to_scene IS NULL THEN NULL WHEN to_scene <= 900 THEN 1.0 ELSE 0.0 END)
           AS within_15,
       count(to_scene) AS reached
FROM spans
"""


def _query() -> str:
    columns = ",\n           ".join(
        f"extract(epoch FROM {end} - {start}) AS {name}" for name, (start, end) in INTERVALS.items()
    )
    aggregates = ",\n       ".join(
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {name}) AS {name}_p50, "
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {name}) AS {name}_p90, "
        f"count({name}) AS {name}_n"
        for name in INTERVALS
    )
    return _QUERY.format(columns=columns, aggregates=aggregates)


async def response_times(
    *, db_session: AsyncSession, since: datetime, region: str | None
) -> dict[str, Any]:
    """P50/P90 (seconds) of each interval and the share of cases reached within 8 and 15 min."""
    row = (
        (await db_session.execute(text(_query()), {"since": since, "region": region}))
        .mappings()
        .one()
    )
    result: dict[str, Any] = {"since": since.isoformat(), "region": region, "cases": row["cases"]}
    for name in INTERVALS:
        result[name] = {
            "p50_seconds": _round(row[f"{name}_p50"]),
            "p90_seconds": _round(row[f"{name}_p90"]),
            "count": row[f"{name}_n"],
        }
    result["reached_scene"] = row["reached"]
    result["share_on_scene_within_8_min"] = _round(row["within_8"], 3)
    result["share_on_scene_within_15_min"] = _round(row["within_15"], 3)
    return result


def _round(value: Any, digits: int = 1) -> float | None:
    return round(float(value), digits) if value is not None else None
