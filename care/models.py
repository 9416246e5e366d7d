"""Secondary-module tables; the person record they hang on is identity.models.Patient."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    Time,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import column, func
from sqlalchemy.sql.elements import TextClause

from data.base import Base, id_column, utcnow
from data.sealed import SealedText

#: Appointment statuses that hold the doctor's time; the others free the slot.
HOLDING_STATUSES = ("booked", "confirmed", "checked_in", "in_progress", "completed")
HOLDING_SQL = "status IN ('booked', 'confirmed', 'checked_in', 'in_progress', 'completed')"


def desc_column(column: str) -> TextClause:
    """A descending index column, for newest-first listings."""
    return text(f"{column} DESC")


class PatientEmergencyContact(Base):
    """Someone to call when the patient cannot speak for themselves."""

    __tablename__ = "patient_emergency_contacts"

    id: Mapped[uuid.UUID] = id_column()
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    relationship: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))


class Doctor(Base):
    """A clinician's professional profile."""

    __tablename__ = "doctors"

    id: Mapped[uuid.UUID] = id_column()
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    license_no: Mapped[str] = mapped_column(String(64), unique=True)
    specialty: Mapped[str] = mapped_column(String(100), index=True)
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    years_experience: Mapped[int | None] = mapped_column(Integer)
    consultation_fee: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)


class DoctorHospitalAffiliation(Base):
    """Where a doctor practises, and in which department."""

    __tablename__ = "doctor_hospital_affiliations"

    doctor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("doctors.id", ondelete="CASCADE"), primary_key=True
    )
    hospital_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hospitals.id", ondelete="CASCADE"), primary_key=True
    )
    department_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True
    )
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When the doctor accepted this affiliation; until then it grants no treatment relationship.
    accepted_at: Mapped[datetime | None]


class DoctorSchedule(Base):
    """A weekly template from which bookable slots are generated."""

    __tablename__ = "doctor_schedules"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("end_time > start_time", name="time_order"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes_range"),
        # Two lines of one doctor never overlap on a weekday, however many adds race
        # (timerange is the range type over time of day that migration 0014 creates).
        ExcludeConstraint(
            ("doctor_id", "="),
            ("weekday", "="),
            (func.timerange(column("start_time"), column("end_time")), "&&"),
            name="ex_doctor_schedules_no_overlap",
            using="gist",
        ),
    )

    id: Mapped[uuid.UUID] = id_column()
    doctor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("doctors.id", ondelete="CASCADE"), index=True
    )
    hospital_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hospitals.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer)


class DoctorAvailabilityState(Base):
    """Last persisted snapshot of a doctor's presence (live presence is in Redis)."""

    __tablename__ = "doctor_availability_state"

    doctor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("doctors.id", ondelete="CASCADE"), primary_key=True
    )
    current_state: Mapped[str] = mapped_column(String(16), default="offline")
    last_heartbeat_at: Mapped[datetime | None]
    current_hospital_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hospitals.id"))


class Appointment(Base):
    """A booked slot with a doctor."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_doctor_start", "doctor_id", "scheduled_start"),
        Index("ix_appointments_patient_start", "patient_id", desc_column("scheduled_start")),
        CheckConstraint("scheduled_end > scheduled_start", name="time_order"),
        # No double booking: two live appointments of one doctor never overlap.
        ExcludeConstraint(
            ("doctor_id", "="),
            (func.tstzrange(column("scheduled_start"), column("scheduled_end")), "&&"),
            name="ex_appointments_doctor_slot",
            using="gist",
            where=text(HOLDING_SQL),
        ),
    )

    id: Mapped[uuid.UUID] = id_column()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("doctors.id"))
    hospital_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hospitals.id"))
    scheduled_start: Mapped[datetime]
    scheduled_end: Mapped[datetime]
    mode: Mapped[str] = mapped_column(String(16), default="in_person")
    status: Mapped[str] = mapped_column(String(16), default="booked")
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    confirmed_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    #: When the doctor started the visit (the patient left the waiting queue).
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    no_show_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    rescheduled_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    reminder_sms_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sms_messages.id", ondelete="SET NULL")
    )

    __mapper_args__ = {"version_id_col": version}


class AppointmentEvent(Base):
    """Every change of an appointment, for its history."""

    __tablename__ = "appointment_events"

    id: Mapped[uuid.UUID] = id_column()
    appointment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(32))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    metadata_json: Mapped[dict] = mapped_column("metadata", JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MedicalRecord(Base):
    """A clinical document about a patient."""

    __tablename__ = "medical_records"
    __table_args__ = (
        Index("ix_medical_records_patient_created", "patient_id", desc_column("created_at")),
    )

    id: Mapped[uuid.UUID] = id_column()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    doctor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("doctors.id"))
    record_type: Mapped[str] = mapped_column(String(16))
    payload_json: Mapped[dict] = mapped_column(JSONB, default=dict)
    notes_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    notes = SealedText("notes_sealed", subject=lambda r: f"patient:{r.patient_id}")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PatientAllergy(Base):
    """A substance the crew must not give this patient."""

    __tablename__ = "patient_allergies"

    id: Mapped[uuid.UUID] = id_column()
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    substance: Mapped[str] = mapped_column(String(120))
    reaction: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class PatientCondition(Base):
    """A known diagnosis, shown in the emergency summary."""

    __tablename__ = "patient_conditions"

    id: Mapped[uuid.UUID] = id_column()
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(32))
    clinical_status: Mapped[str] = mapped_column(String(16), default="active")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class WaitlistEntry(Base):
    """A patient waiting for a slot with a doctor to free up within a window."""

    __tablename__ = "appointment_waitlist"
    __table_args__ = (
        CheckConstraint("not_after > not_before", name="window"),
        Index("ix_appointment_waitlist_doctor_status_created", "doctor_id", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = id_column()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    # waiting -> offered -> booked | waiting (offer lost) ; cancelled
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    offered_hospital_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hospitals.id"))
    offered_start: Mapped[datetime | None]
    offered_end: Mapped[datetime | None]
    offered_at: Mapped[datetime | None]
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CareAccessEvent(Base):
    """Who read a patient's clinical data on what basis: break-glass and emergency reads."""

    __tablename__ = "care_access_log"
    __table_args__ = (Index("ix_care_access_log_patient_at", "patient_id", "at"),)

    id: Mapped[uuid.UUID] = id_column()
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(120))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("emergency_cases.id"))
    kind: Mapped[str] = mapped_column(String(24))
    basis: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
