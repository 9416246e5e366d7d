"""Request and response shapes for hospitals and their capacity."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EdStatus = Literal["open", "diverting", "closed"]


class CapacityUpdate(BaseModel):
    """What a hospital admin reports about their emergency department."""

    model_config = ConfigDict(extra="forbid")

    ed_status: EdStatus
    beds_available: int | None = Field(default=None, ge=0, le=10_000)


class HospitalView(BaseModel):
    """A hospital, with its travel time when a position was given."""

    id: uuid.UUID
    name: str
    region: str | None
    osm_id: int | None
    lat: float
    lng: float
    capabilities: list[str]
    ed_status: EdStatus
    beds_available: int | None
    capacity_updated_at: datetime | None
    capacity_stale: bool
    eta_seconds: float | None = None
