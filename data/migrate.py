"""Run Alembic programmatically, so `lifeline db upgrade` needs no alembic.ini on the path."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from data.db import sync_url
from data.settings import get_data_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic config pointing at our migrations and database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    url = database_url or get_data_settings().database_url
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    """Bring the schema to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str | None = None, revision: str = "-1") -> None:
    """Step the schema back."""
    command.downgrade(alembic_config(database_url), revision)
