"""The read-only FHIR facade: the native API's access rules and audit, FHIR R4 shapes."""

from __future__ import annotations

import uuid

from fhir.resources.R4B.resource import Resource
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care import appointments as appointments_service
from care import fhir_map
from care.access import Requester
from care.models import Appointment, Doctor, PatientEmergencyContact
from care.records import authorise_patient_read
from care.settings import CareSettings
from data.base import utcnow
from data.errors import Forbidden, InvalidInput, NotFound
from dispatch.models import EmergencyCase
from facilities import services as facility_services
from facilities.models import Hospital
from identity.models import Patient
from identity.roles import allowed

MAX_RESULTS = 200


def parse_id(value: str, *, field: str = "id") -> uuid.UUID:
    """FHIR ids here are UUIDs; anything else is a clear 4xx."""
    try:
        return uuid.UUID(value.removeprefix("Patient/"))
    except ValueError:
        raise InvalidInput(f"{field} must be a Lifeline id (UUID)", field=field) from None


async def _get(db_session: AsyncSession, model: type, resource: str, raw_id: str):
    row = await db_session.get(model, parse_id(raw_id))
    if row is None:
        raise NotFound(f"no {resource}/{raw_id}", code="resource_not_found")
    return row


async def read(
    *,
    db_session: AsyncSession,
    requester: Requester,
    resource: str,
    raw_id: str,
    settings: CareSettings,
    break_glass_reason: str | None = None,
) -> Resource:
    """One resource by type and id, if the caller may see it."""
    if resource == "Patient":
        patient = await _get(db_session, Patient, resource, raw_id)
        await authorise_patient_read(db_session=db_session, requester=requester,
                                     patient_id=patient.id,
                                     break_glass_reason=break_glass_reason, kind="fhir_patient",
                                     settings=settings)
        contacts = list(await db_session.scalars(
            select(PatientEmergencyContact).where(PatientEmergencyContact.patient_id == patient.id)
        ))
        return fhir_map.patient(patient, contacts)
    if resource == "Practitioner":
        return fhir_map.practitioner(await _get(db_session, Doctor, resource, raw_id))
    if resource == "Organization":
        return fhir_map.organization(await _get(db_session, Hospital, resource, raw_id))
    if resource == "Location":
        return fhir_map.location(await _get(db_session, Hospital, resource, raw_id))
    if resource == "HealthcareService":
        return await _healthcare_service(db_session, raw_id)
    if resource == "Appointment":
        row = await appointments_service.read(
            db_session=db_session, requester=requester, appointment_id=parse_id(raw_id)
        )
        return fhir_map.appointment(row)
    if resource == "Encounter":
        case = await _get(db_session, EmergencyCase, resource, raw_id)
        _authorise_encounter(requester, case)
        return fhir_map.encounter(case)
    raise NotFound(f"this server does not serve {resource}", code="unsupported_resource")


async def _healthcare_service(db_session: AsyncSession, raw_id: str) -> Resource:
    try:
        hospital_text, capability = fhir_map.parse_service_id(raw_id)
    except ValueError:
        raise InvalidInput("HealthcareService ids are <hospital id>.<capability>",
                           field="id") from None
    hospital = await _get(db_session, Hospital, "HealthcareService", hospital_text)
    states = await hospital_services(db_session=db_session, hospital=hospital)
    state = next((s for s in states if s.capability == capability), None)
    if state is None:
        raise NotFound(f"no HealthcareService/{raw_id}", code="resource_not_found")
    return fhir_map.healthcare_service(hospital, state)


async def hospital_services(*, db_session: AsyncSession, hospital: Hospital) -> list:
    """The hospital's declared capabilities with the service status in force now."""
    rows = await facility_services.rows_of(db_session=db_session, hospital_ids=[hospital.id])
    return facility_services.service_states(hospital, rows, now=utcnow())


async def search_services(*, db_session: AsyncSession, organization: str) -> list[Resource]:
    """``HealthcareService?organization=``: every capability of one hospital."""
    hospital = await _get(db_session, Hospital, "Organization",
                          organization.removeprefix("Organization/"))
    return [fhir_map.healthcare_service(hospital, s)
            for s in await hospital_services(db_session=db_session, hospital=hospital)]


def _authorise_encounter(requester: Requester, case: EmergencyCase) -> None:
    """Staff who may read cases, or the patient the case is about."""
    if requester.patient_id is not None and case.patient_id == requester.patient_id:
        return
    if not allowed(set(requester.roles), "case.read"):
        raise Forbidden("your roles may not read emergency encounters", code="role_forbidden")


async def search(
    *,
    db_session: AsyncSession,
    requester: Requester,
    resource: str,
    patient: str | None,
    settings: CareSettings,
    break_glass_reason: str | None = None,
) -> list[Resource]:
    """Appointments or encounters of one patient (``patient=`` is required)."""
    if resource not in fhir_map.SEARCHABLE_BY_PATIENT:
        raise NotFound(f"search is not supported on {resource}", code="unsupported_search")
    if patient is None:
        raise InvalidInput("search by patient=<id> is required", field="patient")
    patient_id = parse_id(patient, field="patient")
    if await db_session.get(Patient, patient_id) is None:
        raise NotFound(f"no Patient/{patient_id}", code="resource_not_found")
    await authorise_patient_read(db_session=db_session, requester=requester, patient_id=patient_id,
                                 break_glass_reason=break_glass_reason, kind=f"fhir_{resource}",
                                 settings=settings)
    if resource == "Appointment":
        rows = await db_session.scalars(
            select(Appointment).where(Appointment.patient_id == patient_id)
            .order_by(Appointment.scheduled_start.desc()).limit(MAX_RESULTS)
        )
        return [fhir_map.appointment(r) for r in rows]
    rows = await db_session.scalars(
        select(EmergencyCase).where(EmergencyCase.patient_id == patient_id)
        .order_by(EmergencyCase.raised_at.desc()).limit(MAX_RESULTS)
    )
    return [fhir_map.encounter(r) for r in rows]


def metadata(*, base_url: str) -> Resource:
    """The CapabilityStatement."""
    return fhir_map.capability_statement(now=utcnow(), base_url=base_url)
