"""Emergency cases, their audited transitions and dispatches, as stored in PostGIS."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from data.base import Base, id_column, utcnow


class EmergencyCase(Base):
    """One SOS, from the moment it is raised until it is closed or cancelled."""

    __tablename__ = "emergency_cases"
    __table_args__ = (
        Index("ix_emergency_cases_raised_at_id", "raised_at", "id"),
        Index("ix_emergency_cases_status_raised_at", "status", "raised_at"),
        Index("ix_emergency_cases_region_status", "region", "status"),
    )

    id: Mapped[uuid.UUID] = id_column()
    status: Mapped[str] = mapped_column(String(16), default="raised")
    severity: Mapped[str | None] = mapped_column(String(16))
    symptom_category: Mapped[str] = mapped_column(String(32))
    required_capability: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=True))
    location_accuracy_m: Mapped[float | None]
    region: Mapped[str | None] = mapped_column(String(64))
    outside_service_area: Mapped[bool] = mapped_column(Boolean, default=False)
    off_network: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    reporter_phone: Mapped[str] = mapped_column(String(20), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    destination_hospital_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hospitals.id"))
    recommendation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    triaged_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    close_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class CaseEvent(Base):
    """An audited transition: from, to, who, why and when."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_id_at", "case_id", "at"),)

    id: Mapped[uuid.UUID] = id_column()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("emergency_cases.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class EmergencyDispatch(Base):
    """The assignment of a unit and a destination hospital to a case."""

    __tablename__ = "emergency_dispatches"

    id: Mapped[uuid.UUID] = id_column()
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("emergency_cases.id", ondelete="CASCADE"), index=True
    )
    hospital_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hospitals.id"))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    ambulance_ref: Mapped[str | None] = mapped_column(String(64))
    eta_minutes: Mapped[float | None]
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
