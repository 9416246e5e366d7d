"""Emergency cases, their audited transitions and dispatches, as stored in PostGIS."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from data.base import Base, id_column, utcnow
from data.sealed import SealedText


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
    notes_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    notes = SealedText(
        "notes_sealed",
        subject=lambda c: f"patient:{c.patient_id}" if c.patient_id else f"case:{c.id}",
    )
    suspected_abuse: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    #: Sent with a bearer token that did not verify (bad, expired): taken as anonymous.
    unverified_caller: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="false"
    )
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
    #: Reverse-geocoded at intake (geocoding.reverse); `app` SOS or an operator's `phone` call.
    address: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(8), default="app", server_default="app")
    possible_duplicate_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("emergency_cases.id", ondelete="SET NULL")
    )
    linked_to: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("emergency_cases.id"), index=True
    )

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
    #: Never loaded; it tells the unit of work to insert a new case before its first event, so
    #: SOS intake needs one flush (at commit), not two.
    case: Mapped[EmergencyCase] = relationship(lazy="raise", viewonly=False)


class EmergencyDispatch(Base):
    """The assignment of a unit and a destination hospital to a case, with the crew's clock."""

    __tablename__ = "emergency_dispatches"
    __table_args__ = (
        # A unit holds at most one active dispatch: the database enforces it, not just the code.
        Index(
            "uq_emergency_dispatches_active_unit",
            "unit_id",
            unique=True,
            postgresql_where=text("completed_at IS NULL AND unit_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = id_column()
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("emergency_cases.id", ondelete="CASCADE"), index=True
    )
    hospital_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hospitals.id"))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("units.id"), index=True)
    ambulance_ref: Mapped[str | None] = mapped_column(String(64))
    eta_minutes: Mapped[float | None]
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    reply_code: Mapped[str | None] = mapped_column(String(8))
    #: Place in a multi-unit response: 0 is the lead unit (the one shown where one is expected).
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    #: The response-plan slot this unit fills (ALS, BLS, any), when sent by a plan.
    plan_slot: Mapped[str | None] = mapped_column(String(8))
    recommendation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    en_route_at: Mapped[datetime | None]
    on_scene_at: Mapped[datetime | None]
    transporting_at: Mapped[datetime | None]
    at_hospital_at: Mapped[datetime | None]
    handover_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[datetime | None]


class Unit(Base):
    """An ambulance: its station, crew phones and where it stands in its cycle."""

    __tablename__ = "units"

    id: Mapped[uuid.UUID] = id_column()
    call_sign: Mapped[str] = mapped_column(String(32), unique=True)
    unit_type: Mapped[str] = mapped_column("type", String(3))
    station: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    crew_phones: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list)
    status: Mapped[str] = mapped_column(String(16), default="available", index=True)
    current_case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("emergency_cases.id"))
    last_position: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False)
    )
    last_position_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class UnitPosition(Base):
    """A downsampled GPS trail point (the live position is in Redis)."""

    __tablename__ = "unit_positions"
    __table_args__ = (Index("ix_unit_positions_unit_recorded", "unit_id", "recorded_at"),)

    id: Mapped[uuid.UUID] = id_column()
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    position: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    heading: Mapped[float | None]
    speed: Mapped[float | None]
    recorded_at: Mapped[datetime]


class UnitEvent(Base):
    """A unit status change, for the unit's and the case's timeline."""

    __tablename__ = "unit_events"
    __table_args__ = (Index("ix_unit_events_case_at", "case_id", "at"),)

    id: Mapped[uuid.UUID] = id_column()
    unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("emergency_cases.id"))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(16))  # operator | crew_page | sms | system
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseAlert(Base):
    """Something the operator must look at:
    diversion after dispatch, handover delays, SMS failures."""

    __tablename__ = "case_alerts"
    __table_args__ = (
        Index("ix_case_alerts_case_kind", "case_id", "kind", unique=True),
    )

    id: Mapped[uuid.UUID] = id_column()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("emergency_cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(8))  # amber | red
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class CaseLocationReport(Base):
    """A new position sent by the caller's phone; the operator confirms it before the case moves."""

    __tablename__ = "case_location_reports"

    id: Mapped[uuid.UUID] = id_column()
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("emergency_cases.id", ondelete="CASCADE"), index=True
    )
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    accuracy_m: Mapped[float | None]
    distance_m: Mapped[float]
    #: pending (awaits the operator), same (within accuracy of the case), confirmed, dismissed,
    #: superseded (a newer report came first).
    status: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
