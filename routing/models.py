"""Tables of the road network, so every service instance and pgRouting see the same graph."""

from __future__ import annotations

import uuid
from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from data.base import Base, id_column, utcnow

CLOSURE_KINDS = ("segment", "area")


class Region(Base):
    """An imported road network; ``area`` is the convex hull of its nodes."""

    __tablename__ = "regions"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    area: Mapped[WKBElement] = mapped_column(
        Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False
    )
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    node_count: Mapped[int] = mapped_column(BigInteger)
    edge_count: Mapped[int] = mapped_column(BigInteger)
    cache_path: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_regions_area", "area", postgresql_using="gist"),)


class RoadNode(Base):
    """A junction or shape point of the road graph (one OSM node)."""

    __tablename__ = "road_nodes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    region: Mapped[str] = mapped_column(ForeignKey("regions.name", ondelete="CASCADE"), index=True)
    osm_id: Mapped[int] = mapped_column(BigInteger)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )

    __table_args__ = (Index("ix_road_nodes_geom", "geom", postgresql_using="gist"),)


class RoadEdge(Base):
    """One direction of travel between two consecutive road nodes (pgRouting's edge table)."""

    __tablename__ = "road_edges"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    region: Mapped[str] = mapped_column(ForeignKey("regions.name", ondelete="CASCADE"), index=True)
    source: Mapped[int] = mapped_column(ForeignKey("road_nodes.id"), index=True)
    target: Mapped[int] = mapped_column(ForeignKey("road_nodes.id"), index=True)
    length_m: Mapped[float] = mapped_column(Double)
    travel_time_s: Mapped[float] = mapped_column(Double)
    osm_way_id: Mapped[int] = mapped_column(BigInteger)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("LINESTRING", srid=4326, spatial_index=False), nullable=False
    )

    __table_args__ = (Index("ix_road_edges_geom", "geom", postgresql_using="gist"),)


class RoadClosure(Base):
    """A dispatcher-declared closure of a road stretch or an area, until it expires or is lifted."""

    __tablename__ = "road_closures"

    id: Mapped[uuid.UUID] = id_column()
    region: Mapped[str] = mapped_column(ForeignKey("regions.name", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    lifted_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("kind IN ('segment', 'area')", name="kind"),
        Index("ix_road_closures_geom", "geom", postgresql_using="gist"),
    )


ROUTING_TABLES = [Region.__table__, RoadNode.__table__, RoadEdge.__table__, RoadClosure.__table__]
