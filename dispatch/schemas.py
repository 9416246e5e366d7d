"""Request and response shapes of the emergency API; bodies are strict and bounded."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from dispatch.lifecycle import CaseAction, CaseStatus
from dispatch.taxonomy import Severity, SymptomCategory


def e164(value: str) -> str:
    """Accept a phone number only in E.164 form (``+`` and country code) and normalise it."""
    if not value.startswith("+"):
        raise ValueError("phone number must be in E.164 form, e.g. +358401234567")
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number in E.164 form")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


E164Phone = Annotated[str, Field(min_length=3, max_length=20), AfterValidator(e164)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]


class StrictModel(BaseModel):
    """Unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class SosRequest(StrictModel):
    """What the SOS app (or a call-taker) sends to raise a case."""

    lat: Latitude
    lng: Longitude
    symptom_category: SymptomCategory
    reporter_phone: E164Phone
    notes: str | None = Field(default=None, max_length=2000)
    patient_id: uuid.UUID | None = None
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000, allow_inf_nan=False)


class TriageRequest(StrictModel):
    """Severity set by the operator; capability overrides the symptom-based default."""

    severity: Severity
    required_capability: str | None = Field(default=None, min_length=1, max_length=32)


class DispatchRequest(StrictModel):
    """Assign a unit and destination; both default to the top recommendations."""

    unit_id: uuid.UUID | None = None
    hospital_id: uuid.UUID | None = None


class ArriveRequest(StrictModel):
    """The unit reached the patient."""


class CloseRequest(StrictModel):
    """Closing may record the outcome."""

    reason: str | None = Field(default=None, max_length=1000)


class CancelRequest(StrictModel):
    """A cancellation always says why."""

    reason: Reason


class Location(BaseModel):
    """A WGS 84 point."""

    lat: float
    lng: float


class CaseEventView(BaseModel):
    """One step of the case's audited timeline."""

    model_config = ConfigDict(from_attributes=True)

    action: str
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    at: datetime


class CaseView(BaseModel):
    """A case as operators (and, via its token, its reporter) see it."""

    id: uuid.UUID
    status: CaseStatus
    severity: Severity | None
    symptom_category: SymptomCategory
    required_capability: str | None
    location: Location
    location_accuracy_m: float | None
    region: str | None
    outside_service_area: bool
    off_network: bool
    reporter_phone: str
    notes: str | None
    patient_id: uuid.UUID | None
    destination_hospital_id: uuid.UUID | None
    raised_at: datetime
    triaged_at: datetime | None
    dispatched_at: datetime | None
    arrived_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    close_reason: str | None
    version: int
    allowed_actions: list[CaseAction]
    recommended_hospitals: list[dict[str, Any]] = []
    recommendation: dict[str, Any] | None = None
    events: list[CaseEventView] = []


class SosResponse(CaseView):
    """The SOS acknowledgement: the case, and a token to follow it anonymously."""

    case_token: str
    idempotent_replay: bool
    warnings: list[str] = []


class CasePage(BaseModel):
    """A page of cases, newest first; pass ``next_cursor`` back to continue."""

    items: list[CaseView]
    next_cursor: str | None
