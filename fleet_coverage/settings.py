"""Coverage and move-up knobs an agency sets without a code change (LIFELINE_COVERAGE_*)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings

from data.settings import package_settings


class CoverageSettings(BaseSettings):
    """Read from LIFELINE_COVERAGE_* environment variables."""

    model_config = package_settings("LIFELINE_COVERAGE_", legacy=False)

    cell_size_m: float = Field(default=250, ge=50, le=5000)
    bandwidth_m: float = Field(default=500, ge=0, le=20000)
    prior_share: float = Field(default=0.2, ge=0, le=1)
    #: Default response-time target of the coverage figure, minutes.
    minutes: float = Field(default=8, gt=0, le=30)
    #: Move-up limits: at most this many moves per proposal, each at most this long a drive.
    max_moves: int = Field(default=2, ge=0, le=20)
    max_drive_minutes: float = Field(default=15, gt=0, le=60)
    #: Probability that a unit is busy when a call comes (MEXCLP's q).
    busy_fraction: float = Field(default=0.3, ge=0, lt=1)
    #: A proposal must add at least this many percentage points of expected coverage.
    min_gain_pp: float = Field(default=0.2, ge=0)
    #: A unit within this many metres of a post counts as standing at it.
    at_post_m: float = Field(default=150, gt=0)
    #: Coverage-aware dispatch (non-critical cases only): a unit at most this many seconds
    #: slower may be suggested when it leaves at least ``policy_min_saving_pp`` more covered.
    policy_max_extra_seconds: float = Field(default=60, ge=0, le=600)
    policy_min_saving_pp: float = Field(default=2.0, ge=0)
    #: How often the live watcher looks for unit status changes, seconds.
    watch_seconds: float = Field(default=2.0, gt=0, le=60)


@lru_cache
def get_coverage_settings() -> CoverageSettings:
    """Settings read once per process."""
    return CoverageSettings()
