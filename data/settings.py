"""Where the database and Redis live; local defaults work on a developer machine without setup."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, AliasGenerator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Until 2026-12 most packages read ``LIFELINE_<FIELD>``; those names keep working as aliases.
LEGACY_PREFIX = "LIFELINE_"


def package_settings(prefix: str, *, legacy: bool = True) -> SettingsConfigDict:
    """One env prefix per package (``<prefix><FIELD>``), still reading the old ``LIFELINE_<FIELD>``.

    A field with its own ``validation_alias`` (a name shared by packages, as ``LIFELINE_ENV``)
    keeps it. ``populate_by_name``: code and tests build settings by field name.
    """

    def names(field: str) -> AliasChoices:
        choices = [prefix + field.upper()]
        if legacy:
            choices.append(LEGACY_PREFIX + field.upper())
        return AliasChoices(*choices)

    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=".env",
        extra="ignore",
        alias_generator=AliasGenerator(validation_alias=names),
        populate_by_name=True,
    )


class DataSettings(BaseSettings):
    """Connection settings read from DATABASE_URL and REDIS_URL; the shared ``LIFELINE_`` prefix."""

    model_config = SettingsConfigDict(env_prefix=LEGACY_PREFIX, env_file=".env", extra="ignore")

    database_url: str = Field(
        default="postgresql+psycopg://postgres@127.0.0.1:5432/lifeline",
        validation_alias="DATABASE_URL",
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    #: The server's own connection: the least-privilege role the migrations create (no
    #: superuser, no DDL, no trigger control, insert-only on audit_log). Default: DATABASE_URL
    #: with the user (and password) swapped for LIFELINE_APP_DB_USER / _PASSWORD.
    app_database_url_override: str | None = Field(
        default=None, validation_alias="LIFELINE_APP_DATABASE_URL"
    )
    app_db_user: str = Field(default="lifeline_app", validation_alias="LIFELINE_APP_DB_USER")
    app_db_password: str | None = Field(default=None, validation_alias="LIFELINE_APP_DB_PASSWORD")
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

    @property
    def app_database_url(self) -> str:
        """What ``lifeline serve`` connects as (DATABASE_URL stays the migrating owner)."""
        if self.app_database_url_override:
            return self.app_database_url_override
        # The user is swapped in the URL's own spelling, so a libpq multi-host URL (high
        # availability: ``postgresql://u@h1:5432,h2:5432/db?...``) stays one that both libpq
        # (the relay) and data.db.sync_url (SQLAlchemy) read.
        parts = urlsplit(self.database_url)
        hosts = parts.netloc.rpartition("@")[2]
        user = quote(self.app_db_user, safe="")
        if self.app_db_password:
            user += ":" + quote(self.app_db_password, safe="")
        return urlunsplit(parts._replace(netloc=f"{user}@{hosts}"))


@lru_cache
def get_data_settings() -> DataSettings:
    """Settings are read once per process."""
    return DataSettings()
