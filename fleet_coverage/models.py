"""Tables of coverage: standby posts, the demand grid of each region, and accepted move-ups."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import CheckConstraint, Double, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from data.base import Base, id_column, utcnow

POST_KINDS = ("station", "standby")


class CoveragePost(Base):
    """A place where an ambulance may wait: a station, or a standby point an agency chose."""

    __tablename__ = "coverage_posts"
    __table_args__ = (
        Index("uq_coverage_posts_region_name", "region", "name", unique=True),
        CheckConstraint("kind IN ('station', 'standby')", name="kind"),
    )

    id: Mapped[uuid.UUID] = id_column()
    region: Mapped[str] = mapped_column(ForeignKey("regions.name", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CoverageDemand(Base):
    """A region's demand grid as last computed (``lifeline coverage demand``)."""

    __tablename__ = "coverage_demand"

    region: Mapped[str] = mapped_column(
        ForeignKey("regions.name", ondelete="CASCADE"), primary_key=True
    )
    cell_size_m: Mapped[float] = mapped_column(Double)
    bandwidth_m: Mapped[float] = mapped_column(Double)
    prior_share: Mapped[float] = mapped_column(Double)
    case_count: Mapped[int] = mapped_column(Integer)
    cells: Mapped[dict[str, Any]] = mapped_column(JSONB)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class CoverageMove(Base):
    """An accepted move-up: who sent which unit to which post, and what it was expected to add."""

    __tablename__ = "coverage_moves"
    __table_args__ = (Index("ix_coverage_moves_unit_accepted", "unit_id", "accepted_at"),)

    id: Mapped[uuid.UUID] = id_column()
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coverage_posts.id", ondelete="CASCADE")
    )
    region: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(120))
    drive_s: Mapped[float | None] = mapped_column(Double)
    coverage_before: Mapped[float | None] = mapped_column(Double)
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
