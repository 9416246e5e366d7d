"""Request and response shapes of the emergency API; bodies are strict and bounded."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

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
    #: ``phone``: an operator took a voice call (same intake); ``app``: the SOS app.
    source: Literal["app", "phone"] = "app"
    #: An operator taking a call may triage at once.
    severity: Severity | None = None


class LinkRequest(StrictModel):
    """The primary case a duplicate call follows."""

    to: uuid.UUID


class TriageRequest(StrictModel):
    """Severity set by the operator; capability overrides the symptom-based default."""

    severity: Severity
    required_capability: str | None = Field(default=None, min_length=1, max_length=32)


class DispatchRequest(StrictModel):
    """Assign a unit (or several, all or none) and destination; both default to the top
    recommendations."""

    unit_id: uuid.UUID | None = None
    hospital_id: uuid.UUID | None = None
    unit_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=6,
        description="several units for one incident (a response plan): all bound, or none",
    )

    @model_validator(mode="after")
    def _one_way_to_name_units(self) -> DispatchRequest:
        if self.unit_ids is not None:
            if self.unit_id is not None:
                raise ValueError("send unit_id or unit_ids, not both")
            if len(set(self.unit_ids)) != len(self.unit_ids):
                raise ValueError("unit_ids repeats a unit")
        return self
    #: Required to send a unit to a hospital lacking the capability, or diverting.
    reason: str | None = Field(default=None, max_length=1000)


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
    suspected_abuse: bool = False
    #: The SOS came with a bearer token that did not verify; it was taken as anonymous.
    unverified_caller: bool = False
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
    recommended_units: list[dict[str, Any]] = []
    dispatch: dict[str, Any] | None = None
    #: Every unit sent to the case (a response plan may send several), lead first.
    dispatches: list[dict[str, Any]] = []
    #: The units the case's response plan (symptom x severity) would send together.
    recommended_plan: dict[str, Any] | None = None
    alerts: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    #: A position from the caller's phone that differs from the case's, awaiting the operator.
    pending_location: dict[str, Any] | None = None
    #: Reverse-geocoded from the region's own OSM data at intake.
    address: str | None = None
    source: Literal["app", "phone"] = "app"
    possible_duplicate_of: uuid.UUID | None = None
    linked_to: uuid.UUID | None = None


class SosResponse(CaseView):
    """The SOS acknowledgement: the case, and a token to follow it anonymously."""

    case_token: str
    idempotent_replay: bool
    warnings: list[str] = []


class CasePage(BaseModel):
    """A page of cases, newest first; pass ``next_cursor`` back to continue."""

    items: list[CaseView]
    next_cursor: str | None


class LocationReport(StrictModel):
    """The caller's phone position while the case is open."""

    lat: Latitude
    lng: Longitude
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000, allow_inf_nan=False)


class UnitCreate(StrictModel):
    """Register an ambulance."""

    call_sign: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
    type: Literal["ALS", "BLS"]
    station_lat: Latitude
    station_lng: Longitude
    crew_phones: list[E164Phone] = Field(default_factory=list, max_length=10)


class UnitStatusUpdate(StrictModel):
    """Operators may only take a unit out of service or return it."""

    status: Literal["available", "out_of_service"]


class PositionPing(StrictModel):
    """A GPS fix from the ambulance."""

    lat: Latitude
    lng: Longitude
    heading: float | None = Field(default=None, ge=0, lt=360, allow_inf_nan=False)
    speed: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    recorded_at: datetime


class UnitView(BaseModel):
    """An ambulance as the console shows it."""

    id: uuid.UUID
    call_sign: str
    type: str
    status: str
    station: Location
    crew_phones: list[str]
    current_case_id: uuid.UUID | None
    position: Location | None
    position_recorded_at: datetime | None
    position_stale: bool


class PositionAccepted(BaseModel):
    """Whether a ping became the live position (older pings never overwrite newer ones)."""

    accepted: bool
    live: bool
    trail_stored: bool
