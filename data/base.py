"""One declarative base so every table shares the constraint naming convention Alembic relies on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Every ORM model of Lifeline derives from this base."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


def utcnow() -> datetime:
    """Timestamps are always timezone-aware UTC so clients never guess an offset."""
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """Random ids do not leak case volumes the way sequential ones would."""
    return uuid.uuid4()


def id_column() -> Mapped[uuid.UUID]:
    """Primary key column used by most tables."""
    return mapped_column(primary_key=True, default=new_id)
