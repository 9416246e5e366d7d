"""Response models of routes whose domain function answers a plain dict, so OpenAPI says what
comes back.

Each model lists the fields clients rely on, typed as the JSON carries them (ids and times are
the strings the domain already formats); ``extra="allow"`` passes any further field through
unchanged, so describing a route never changes its answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, WithJsonSchema


class Answer(BaseModel):
    """A described answer that keeps whatever else the domain adds."""

    model_config = ConfigDict(extra="allow")


#: A JSON number the domain may write as an int (a setting's default of ``8``) or a float: a
#: plain ``float`` field would turn ``8`` into ``8.0``, changing the answer.
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


class Feature(Answer):
    """One GeoJSON feature (RFC 7946)."""

    type: str = "Feature"
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None


class FeatureCollection(Answer):
    """A GeoJSON FeatureCollection (RFC 7946): route lines, road geometry, isochrone bands."""

    type: str = "FeatureCollection"
    features: list[Feature]


class CrewJob(Answer):
    """What a crew link opens: the incident, the destination, the routes to each, and the
    statuses the crew may report next."""

    routes: dict[str, Any] | None = None


class CrewStatusReported(Answer):
    """The outcome of a crew status report (``replayed``: the same Idempotency-Key again)."""

    status: str
    replayed: bool
    unit_status: str | None = None
    case_status: str | None = None


class ServiceState(Answer):
    """One capability of a hospital and its effective status."""

    capability: str
    status: str
    reason: str | None
    until: str | None
    updated_at: str | None
    updated_by: str | None


class HospitalServices(Answer):
    """Every declared service of one hospital."""

    hospital_id: str
    services: list[ServiceState]


class ServiceStatusSet(ServiceState):
    """A service status set, the status it replaced and the open cases re-ranked for it."""

    hospital_id: str
    previous_status: str | None
    reassessed_cases: list[str]


class HaveApplied(Answer):
    """What one EDXL-HAVE document changed."""

    hospitals: Any
    capacity_changed: list[str]
    service_changes: list[str]
    ignored: Any
    reassessed_cases: list[str]


class DiversionPolicyView(Answer):
    """A region's clinical diversion policy (``default``: never set, 600 s applies)."""

    region: str
    critical_override_seconds: float
    default: bool
    updated_at: str | None
    updated_by: str | None


class IncomingPatient(Answer):
    """What the receiving hospital is told of the patient."""

    full_name: str | None
    dob: str | None
    blood_group: str | None


class IncomingCase(Answer):
    """A case bound to this hospital, with its ambulance's ETA."""

    case_id: str
    status: str
    severity: str | None
    symptom_category: str
    address: str | None
    unit: str | None
    unit_status: str | None
    units: list[str | None]
    eta_at: str | None
    acknowledged_at: str | None
    patient: IncomingPatient | None


class Acknowledged(Answer):
    """The destination hospital has acknowledged the case."""

    case_id: str
    acknowledged_at: str


class ResponseTimes(Answer):
    """Response-time percentiles per interval (call → dispatch, dispatch → on scene, ...)."""


class LocationReported(Answer):
    """A position the caller's phone reported (``pending``: far enough to ask the operator)."""

    id: str
    lat: float
    lng: float
    accuracy_m: float | None
    distance_m: float
    status: str
    reported_at: str


class Health(Answer):
    """The API's view of itself and its dependencies (503 with the same body when not ready)."""

    status: str


#: Bodies in a named format other than JSON, for ``responses=`` of the routes that send them.
XML_TEXT = {"content": {"application/xml": {"schema": {"type": "string"}}}}
PROMETHEUS_TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}}}
FHIR_JSON = {
    "content": {"application/fhir+json": {"schema": {
        "type": "object", "description": "a FHIR R4 resource or Bundle (hl7.org/fhir/R4)",
    }}}
}
