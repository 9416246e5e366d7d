"""Where the database and Redis live; local defaults work on a developer machine without setup."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DataSettings(BaseSettings):
    """Connection settings read from DATABASE_URL and REDIS_URL."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default="postgresql+psycopg://postgres@127.0.0.1:5432/lifeline",
        validation_alias="DATABASE_URL",
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    #: Optional: where reads that may be a moment stale go (a standby: libpq
    #: ``target_session_attrs=prefer-standby``); unset, they use DATABASE_URL. docs/scaling.md.
    database_read_url: str | None = Field(default=None, validation_alias="DATABASE_READ_URL")
    db_pool_size: int = Field(default=10, validation_alias="LIFELINE_DB_POOL_SIZE")
    db_max_overflow: int = Field(default=20, validation_alias="LIFELINE_DB_MAX_OVERFLOW")
    data_dir: str = Field(default="var", validation_alias="LIFELINE_DATA_DIR")
    #: How long a starting worker waits for an unreachable database before giving up.
    startup_wait_seconds: float = Field(
        default=60.0, ge=0, validation_alias="LIFELINE_STARTUP_WAIT_SECONDS"
    )


@lru_cache
def get_data_settings() -> DataSettings:
    """Settings are read once per process."""
    return DataSettings()
