"""Request and response shapes of the care API."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

AvailabilityState = Literal["available", "busy", "offline", "in_emergency"]
RecordType = Literal["visit", "lab", "prescription", "discharge"]
BloodGroup = Literal["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"]


def e164(value: str | None) -> str | None:
    """Normalise a phone number to E.164, or refuse it."""
    if value is None:
        return None
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number in international form: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def aware(value: datetime) -> datetime:
    """Times must carry an offset, so nobody guesses a zone."""
    if value.tzinfo is None:
        raise ValueError("needs a timezone, e.g. 2026-01-01T09:00:00Z")
    return value


class Strict(BaseModel):
    """Unknown fields are refused, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid")


class DoctorCreate(Strict):
    """A clinician's profile, created by a hospital admin or a super admin."""

    full_name: str = Field(min_length=1, max_length=200)
    license_no: str = Field(min_length=1, max_length=64)
    specialty: str = Field(min_length=1, max_length=100)
    languages: list[str] = Field(default_factory=list, max_length=20)
    years_experience: int | None = Field(default=None, ge=0, le=80)
    consultation_fee: Decimal | None = Field(default=None, ge=0, le=100_000, decimal_places=2)
    user_id: uuid.UUID | None = None

    @field_validator("languages")
    @classmethod
    def lower(cls, value: list[str]) -> list[str]:
        return sorted({v.strip().lower() for v in value if v.strip()})


class DoctorView(BaseModel):
    """A doctor as patients find them."""

    id: uuid.UUID
    full_name: str
    license_no: str
    specialty: str
    languages: list[str]
    years_experience: int | None
    consultation_fee: Decimal | None
    is_verified: bool
    hospitals: list[dict[str, Any]] = Field(default_factory=list)
    availability: AvailabilityState = "offline"


class DepartmentCreate(Strict):
    name: str = Field(min_length=1, max_length=120)


class AffiliationCreate(Strict):
    doctor_id: uuid.UUID
    department_id: uuid.UUID
    is_primary: bool = False


class ScheduleCreate(Strict):
    """A weekly template line: weekday 0 = Monday, local wall-clock times."""

    weekday: int = Field(ge=0, le=6)
    start_time: time
    end_time: time
    slot_minutes: int = Field(ge=5, le=240)

    @model_validator(mode="after")
    def ordered(self) -> ScheduleCreate:
        if self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time")
        return self


class MyScheduleCreate(ScheduleCreate):
    """A doctor's own template line, at one of the hospitals whose affiliation they accepted."""

    hospital_id: uuid.UUID


class ScheduleView(BaseModel):
    """One weekly template line as stored."""

    id: uuid.UUID
    doctor_id: uuid.UUID
    hospital_id: uuid.UUID
    weekday: int
    start_time: time
    end_time: time
    slot_minutes: int


class AvailabilityUpdate(Strict):
    state: AvailabilityState
    hospital_id: uuid.UUID | None = None


class AppointmentCreate(Strict):
    doctor_id: uuid.UUID
    hospital_id: uuid.UUID
    start: datetime
    mode: Literal["in_person", "video"] = "in_person"
    reason: str | None = Field(default=None, max_length=2_000)
    #: Staff booking on behalf of a patient name the patient; patients book for themselves.
    patient_id: uuid.UUID | None = None

    _aware = field_validator("start")(aware)


class CancelBody(Strict):
    reason: str | None = Field(default=None, max_length=500)


class RescheduleBody(Strict):
    start: datetime
    hospital_id: uuid.UUID | None = None

    _aware = field_validator("start")(aware)


class WaitlistCreate(Strict):
    doctor_id: uuid.UUID
    not_before: datetime
    not_after: datetime

    _aware = field_validator("not_before", "not_after")(aware)

    @model_validator(mode="after")
    def ordered(self) -> WaitlistCreate:
        if self.not_after <= self.not_before:
            raise ValueError("not_after must be after not_before")
        return self


class ProfileUpdate(Strict):
    full_name: str = Field(min_length=1, max_length=200)
    dob: date | None = None
    gender: str | None = Field(default=None, max_length=16)
    blood_group: BloodGroup | None = None
    address: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=100)
    province: str | None = Field(default=None, max_length=100)
    phone: str | None = None

    _phone = field_validator("phone")(e164)


class ContactCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    relationship: str | None = Field(default=None, max_length=64)
    phone: str

    _phone = field_validator("phone")(e164)


class AllergyCreate(Strict):
    substance: str = Field(min_length=1, max_length=120)
    reaction: str | None = Field(default=None, max_length=500)
    severity: Literal["mild", "moderate", "severe"] | None = None


class ConditionCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=32)
    clinical_status: Literal["active", "resolved", "inactive"] = "active"


class RecordCreate(Strict):
    record_type: RecordType
    payload: dict[str, Any] = Field(default_factory=dict)


class AppointmentView(BaseModel):
    """An appointment as the API answers it (``appointments.appointment_view``), so OpenAPI
    says what comes back; any further field passes through unchanged."""

    model_config = ConfigDict(extra="allow")

    id: str
    patient_id: str
    doctor_id: str
    hospital_id: str
    start: str
    end: str
    status: str
    version: int
    checked_in_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    allowed_actions: list[str]
