"""Lifeline rows as FHIR R4 resources, each validated by the fhir.resources models on the way out.

fhir.resources (8.x) ships R4 as its R4B sub-package (4.3.0); the resources used here have the
same shape in R4 4.0.1 (Encounter.class is still a Coding), so what leaves is valid R4.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.resource import Resource
from geoalchemy2.shape import to_shape

from care.models import Appointment, Doctor, PatientEmergencyContact
from dispatch.models import EmergencyCase
from facilities.models import Hospital
from facilities.services import ServiceState
from identity.models import Patient

SYSTEM = "https://lifeline.example/fhir/sid"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
FHIR_VERSION = "4.0.1"

GENDER = {"male": "male", "m": "male", "female": "female", "f": "female", "other": "other"}
APPOINTMENT_STATUS = {
    "booked": "booked", "confirmed": "booked", "checked_in": "checked-in",
    "in_progress": "arrived",
    "completed": "fulfilled", "cancelled": "cancelled", "no_show": "noshow",
    "rescheduled": "cancelled",
}
ENCOUNTER_STATUS = {
    "raised": "planned", "triaged": "triaged", "dispatched": "in-progress",
    "arrived": "in-progress", "closed": "finished", "cancelled": "cancelled",
}
SEARCHABLE_BY_PATIENT = ("Appointment", "Encounter")
CAPABILITY_SYSTEM = "https://lifeline.example/fhir/CodeSystem/capability"
SERVICE_CATEGORY = "http://terminology.hl7.org/CodeSystem/service-category"
ALL_WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _address(text: str | None, city: str | None, state: str | None) -> list[dict[str, Any]]:
    fields = {k: v for k, v in (("text", text), ("city", city), ("state", state)) if v}
    return [fields] if fields else []


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """FHIR forbids empty arrays and nulls."""
    return {k: v for k, v in data.items() if v not in (None, [], {})}


def patient(row: Patient, contacts: list[PatientEmergencyContact]) -> FhirPatient:
    """A registered patient with their emergency contacts."""
    return FhirPatient.model_validate(_clean({
        "resourceType": "Patient",
        "id": str(row.id),
        "identifier": [{"system": f"{SYSTEM}/patient", "value": str(row.id)}],
        "active": True,
        "name": [{"text": row.full_name}],
        "gender": GENDER.get((row.gender or "").lower(), "unknown"),
        "birthDate": row.dob.isoformat() if row.dob else None,
        "telecom": [{"system": "phone", "value": row.phone, "use": "mobile"}] if row.phone else [],
        "address": _address(row.address, row.city, row.province),
        "contact": [
            _clean({
                "relationship": [{"text": c.relationship}] if c.relationship else [],
                "name": {"text": c.name},
                "telecom": [{"system": "phone", "value": c.phone}],
            })
            for c in contacts
        ],
    }))


def practitioner(row: Doctor) -> Practitioner:
    """A doctor: licence as identifier, specialty as qualification, languages."""
    return Practitioner.model_validate(_clean({
        "resourceType": "Practitioner",
        "id": str(row.id),
        "identifier": [{"system": f"{SYSTEM}/licence", "value": row.license_no}],
        "active": True,
        "name": [{"text": row.full_name}],
        "qualification": [{"code": {"text": row.specialty}}],
        "communication": [{"coding": [{"system": "urn:ietf:bcp:47", "code": lang}]}
                          for lang in row.languages or []],
    }))


def organization(row: Hospital) -> Organization:
    """A hospital as an organisation."""
    return Organization.model_validate(_clean({
        "resourceType": "Organization",
        "id": str(row.id),
        "identifier": [{"system": f"{SYSTEM}/hospital", "value": str(row.id)}],
        "active": True,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": "prov", "display": "Healthcare Provider"}]}],
        "name": row.name,
        "address": _address(row.address, row.city, row.province),
    }))


def location(row: Hospital) -> Location:
    """A hospital as a place, with its position."""
    point = to_shape(row.location)
    return Location.model_validate(_clean({
        "resourceType": "Location",
        "id": str(row.id),
        "status": "active" if row.ed_status != "closed" else "suspended",
        "name": row.name,
        "mode": "instance",
        "address": (_address(row.address, row.city, row.province) or [None])[0],
        "position": {"latitude": point.y, "longitude": point.x},
        "managingOrganization": {"reference": f"Organization/{row.id}"},
    }))


def service_id(hospital_id: object, capability: str) -> str:
    """``<hospital uuid>.<capability>``: FHIR ids allow letters, digits, ``-`` and ``.`` only."""
    return f"{hospital_id}.{capability.replace('_', '-')}"


def parse_service_id(value: str) -> tuple[str, str]:
    """Inverse of :func:`service_id`: (hospital id text, capability); ValueError if malformed."""
    hospital, _, capability = value.partition(".")
    if not hospital or not capability:
        raise ValueError(value)
    return hospital, capability.replace("-", "_")


def healthcare_service(row: Hospital, state: ServiceState) -> HealthcareService:
    """One emergency capability of a hospital: offered around the clock (emergency care), and
    ``notAvailable`` for the period a service is unavailable (with its reason and end time)."""
    during = _clean({"start": _instant(state.updated_at), "end": _instant(state.until)})
    limited = state.status == "limited"
    return HealthcareService.model_validate(_clean({
        "resourceType": "HealthcareService",
        "id": service_id(row.id, state.capability),
        "identifier": [{"system": f"{SYSTEM}/service", "value": service_id(row.id,
                                                                           state.capability)}],
        "active": True,
        "providedBy": {"reference": f"Organization/{row.id}", "display": row.name},
        "category": [{"coding": [{"system": SERVICE_CATEGORY, "code": "14",
                                  "display": "Emergency Department"}]}],
        "type": [{"coding": [{"system": CAPABILITY_SYSTEM, "code": state.capability}],
                  "text": state.capability.replace("_", " ")}],
        "location": [{"reference": f"Location/{row.id}"}],
        "name": f"{row.name}: {state.capability.replace('_', ' ')}",
        "availableTime": [{"daysOfWeek": ALL_WEEK, "allDay": True}],
        "notAvailable": (
            [_clean({"description": state.reason or "service unavailable",
                     "during": during or None})]
            if state.status == "unavailable" else []
        ),
        "availabilityExceptions": (
            f"limited{': ' + state.reason if state.reason else ''}"
            f"{' until ' + state.until.isoformat() if state.until else ''}"
            if limited else None
        ),
    }))


def appointment(row: Appointment) -> FhirAppointment:
    """An appointment with its patient, practitioner and place as participants."""
    status = "accepted"
    return FhirAppointment.model_validate(_clean({
        "resourceType": "Appointment",
        "id": str(row.id),
        "status": APPOINTMENT_STATUS[row.status],
        "description": row.reason,
        "start": _instant(row.scheduled_start),
        "end": _instant(row.scheduled_end),
        "minutesDuration": int((row.scheduled_end - row.scheduled_start).total_seconds() // 60),
        "created": _instant(row.created_at),
        "cancelationReason": {"text": row.cancel_reason} if row.cancel_reason else None,
        "participant": [
            {"actor": {"reference": f"Patient/{row.patient_id}"}, "status": status},
            {"actor": {"reference": f"Practitioner/{row.doctor_id}"}, "status": status},
            {"actor": {"reference": f"Location/{row.hospital_id}"}, "status": status},
        ],
    }))


def encounter(row: EmergencyCase) -> Encounter:
    """An emergency case as an EMER encounter."""
    end = row.closed_at or row.cancelled_at
    return Encounter.model_validate(_clean({
        "resourceType": "Encounter",
        "id": str(row.id),
        "status": ENCOUNTER_STATUS.get(row.status, "unknown"),
        "class": {"system": ACT_CODE, "code": "EMER", "display": "emergency"},
        "priority": {"text": row.severity} if row.severity else None,
        "subject": {"reference": f"Patient/{row.patient_id}"} if row.patient_id else None,
        "period": _clean({"start": _instant(row.raised_at), "end": _instant(end)}),
        "reasonCode": [{"text": row.symptom_category}],
        "serviceProvider": (
            {"reference": f"Organization/{row.destination_hospital_id}"}
            if row.destination_hospital_id else None
        ),
        "location": (
            [{"location": {"reference": f"Location/{row.destination_hospital_id}"}}]
            if row.destination_hospital_id else []
        ),
    }))


def searchset(resources: list[Resource], *, base_url: str) -> Bundle:
    """A search result bundle."""
    return Bundle.model_validate(_clean({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{base_url.rstrip('/')}/{r.get_resource_type()}/{r.id}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }))


def capability_statement(*, now: datetime, base_url: str) -> CapabilityStatement:
    """What this read-only facade serves."""
    def entry(kind: str) -> dict[str, Any]:
        interactions = [{"code": "read"}]
        params = []
        if kind in SEARCHABLE_BY_PATIENT:
            interactions.append({"code": "search-type"})
            params.append({"name": "patient", "type": "reference"})
        if kind == "HealthcareService":
            interactions.append({"code": "search-type"})
            params.append({"name": "organization", "type": "reference"})
        return _clean({"type": kind, "interaction": interactions, "searchParam": params})

    kinds = ("Patient", "Practitioner", "Organization", "Location", "HealthcareService",
             "Appointment", "Encounter")
    return CapabilityStatement.model_validate({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now.isoformat(),
        "publisher": "Lifeline",
        "kind": "instance",
        "implementation": {"description": "Lifeline read-only FHIR facade", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [{"mode": "server", "security": {"description": "OAuth2 bearer token (JWT)"},
                  "resource": [entry(k) for k in kinds]}],
    })
