"""Request bodies of the coverage API (strict: unknown fields are 422)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field


class MoveUpRequest(BaseModel):
    """Send a free unit to a post."""

    model_config = ConfigDict(extra="forbid")

    post_id: uuid.UUID


class PostCreate(BaseModel):
    """A standby point an agency adds to a region."""

    model_config = ConfigDict(extra="forbid")

    region: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=100)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
