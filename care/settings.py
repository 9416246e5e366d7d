"""Care settings: presence lifetime, reminder lead time and the clinics' local time zone."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings

from data.settings import package_settings


class CareSettings(BaseSettings):
    """Read from LIFELINE_CARE_* environment variables."""

    model_config = package_settings("LIFELINE_CARE_", legacy=False)

    #: A doctor whose app stops heartbeating is offline after this many seconds.
    presence_ttl_seconds: int = Field(default=90, ge=1, le=3_600)
    #: Heartbeats persist a snapshot to PostgreSQL at most this often.
    snapshot_every_seconds: int = Field(default=60, ge=1)
    presence_prefix: str = "lifeline:presence:doctor:"
    #: Schedule templates are wall-clock times in this zone.
    timezone: str = "Europe/Helsinki"
    reminder_lead_hours: int = Field(default=24, ge=1, le=168)
    #: A break-glass reason shorter than this is refused (it must say something).
    break_glass_min_reason: int = Field(default=10, ge=1)
    #: A treatment relationship lasts this long around its encounter: from this many hours
    #: before an appointment until as many after it ends, and after an emergency case is raised.
    treatment_window_hours: int = Field(default=72, ge=1, le=24 * 30)


@lru_cache
def get_care_settings() -> CareSettings:
    """Settings are read once per process."""
    return CareSettings()
