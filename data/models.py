"""Imports every ORM module so metadata (Alembic, relationships) sees all tables."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "identity.models",
    "facilities.models",
    "care.models",
    "dispatch.models",
    "routing.models",
    "geocoding.models",
    "messaging.models",
    "fleet_coverage.models",
    "data.outbox",
    "data.idempotency",
    "identity.sealing",  # last: hooks every model with sealed fields
)


def import_all_models() -> None:
    """Import all model modules once; safe to call repeatedly."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
