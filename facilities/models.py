"""Hospitals carry a PostGIS point so routing and the console can place them."""

from __future__ import annotations

import uuid
from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from data.base import Base, id_column, utcnow


class Hospital(Base):
    """A facility that may receive emergency patients."""

    __tablename__ = "hospitals"
    __table_args__ = (
        Index("ix_hospitals_city_province", "city", "province"),
        Index("ix_hospitals_region_osm_id", "region", "osm_id", unique=True),
    )

    id: Mapped[uuid.UUID] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    #: OSM ``name:<lang>`` per language code, so the maps name it in the reader's language.
    local_names: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    region: Mapped[str | None] = mapped_column(String(64), index=True)
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    license_no: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True)
    )
    #: Where ambulances reach it (emergency entrance, entrance, campus road: routing.entrances,
    #: or the CSV's entrance_lat,entrance_lng); None: at ``location``'s nearest road.
    entrance: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False)
    )
    access_kind: Mapped[str | None] = mapped_column(String(24))
    access_snap_m: Mapped[float | None] = mapped_column(Double)
    is_emergency_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    capabilities: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    ed_status: Mapped[str] = mapped_column(String(16), default="open")
    beds_available: Mapped[int | None] = mapped_column(Integer)
    capacity_updated_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Department(Base):
    """A clinical department of a hospital."""

    __tablename__ = "departments"

    id: Mapped[uuid.UUID] = id_column()
    hospital_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hospitals.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))


class HospitalService(Base):
    """The status of one capability of a hospital, when it is not simply available.

    No row means available. A row with ``until`` in the past counts as available too: the
    expiry sweep deletes it (and announces the revert), but readers never wait for the sweep.
    """

    __tablename__ = "hospital_services"
    __table_args__ = (
        CheckConstraint("status IN ('available', 'limited', 'unavailable')", name="status"),
        Index("ix_hospital_services_until", "until"),
    )

    hospital_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hospitals.id", ondelete="CASCADE"), primary_key=True
    )
    capability: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


class HospitalServiceChange(Base):
    """The audit trail of service statuses: every change, by whom, and every expiry."""

    __tablename__ = "hospital_service_changes"
    __table_args__ = (Index("ix_hospital_service_changes_hospital_at", "hospital_id", "at"),)

    id: Mapped[uuid.UUID] = id_column()
    hospital_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hospitals.id", ondelete="CASCADE"))
    capability: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    until: Mapped[datetime | None]
    actor: Mapped[str] = mapped_column(String(200))  # a user, "have-import", or "expiry"
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RegionDiversionPolicy(Base):
    """A region's clinical diversion policy (see dispatch.diversion); no row: the default."""

    __tablename__ = "region_diversion_policies"
    __table_args__ = (
        CheckConstraint("critical_override_s >= 0 AND critical_override_s <= 7200", name="range"),
    )

    region: Mapped[str] = mapped_column(
        String(100), ForeignKey("regions.name", ondelete="CASCADE"), primary_key=True
    )
    critical_override_s: Mapped[float]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))
