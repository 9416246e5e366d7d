"""Dispatch policy knobs an operations centre tunes without a code change."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings

from data.settings import package_settings


class DispatchSettings(BaseSettings):
    """Read from LIFELINE_DISPATCH_* environment variables (formerly LIFELINE_*)."""

    model_config = package_settings("LIFELINE_DISPATCH_")

    recommended_hospitals: int = Field(default=3, ge=1, le=10)
    capacity_stale_minutes: float = Field(default=30, gt=0)
    max_snap_distance_m: float = Field(default=500, gt=0)
    routing_sync_seconds: float = Field(default=5, gt=0, le=10)
    on_scene_allowance_minutes: float = Field(default=15, ge=0)
    als_preference_seconds: float = Field(default=240, ge=0)
    position_stale_seconds: float = Field(default=120, gt=0)
    trail_min_interval_seconds: float = Field(default=30, gt=0)
    trail_min_distance_m: float = Field(default=200, gt=0)
    recommended_units: int = Field(default=5, ge=1, le=20)
    #: Shared with messaging (Twilio callbacks): one public name for the deployment.
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", validation_alias="LIFELINE_PUBLIC_BASE_URL"
    )
    handover_amber_minutes: float = Field(default=15, gt=0)
    handover_red_minutes: float = Field(default=45, gt=0)
    #: How often each worker reverts hospital service statuses whose end time has passed.
    service_sweep_seconds: float = Field(default=2, gt=0, le=60)
    #: A new case this close (and this recent) to an open case is flagged as a possible duplicate.
    duplicate_radius_m: float = Field(default=200, ge=0)
    duplicate_minutes: float = Field(default=15, ge=0)
    #: Longest a statement of the SOS's address or duplicate lookup may take (ms); past it the
    #: SOS is accepted without it (the address is filled in later): dispatch.case_address.
    intake_lookup_ms: int = Field(default=300, ge=1, le=10_000)
    #: Comma-separated regions this process loads and routes in (empty: all imported regions).
    regions: str = ""
    #: Hospital ETAs on the turn-expanded road graph (restrictions, turn costs, junction
    #: delays: routing.turns); false: the plain node graph (half the table memory).
    turn_model: bool = True
    #: Largest turn-model table a worker builds (GB); above it the region keeps the node graph
    #: (a 1M-node region with 500 hospitals needs 3.6 GB of 16-bit cells edge-based, 1 GB not).
    turn_table_max_gb: float = Field(default=2.0, gt=0)
    #: Instead, such a region keeps per road edge only the hospitals within this many minutes
    #: (exact there; beyond it a hospital has no ETA unless a search is asked for): 0 keeps
    #: the node graph. 20 min fits a 1M-node region with 500 hospitals in 0.6 GB.
    turn_table_horizon_minutes: float = Field(default=0, ge=0, le=60)

    @property
    def served_regions(self) -> frozenset[str] | None:
        """``LIFELINE_DISPATCH_REGIONS`` as a set, or None for every region."""
        names = frozenset(n.strip() for n in self.regions.split(",") if n.strip())
        return names or None


@lru_cache
def get_dispatch_settings() -> DispatchSettings:
    """Settings are read once per process."""
    return DispatchSettings()
