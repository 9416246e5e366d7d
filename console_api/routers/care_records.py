"""Patients: own profile, contacts, allergies, conditions; records behind the access rules;
the SOS emergency summary for the dispatch room, the receiving hospital and the crew."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status

from care import emergency_summary, records
from care.schemas import AllergyCreate, ConditionCreate, ContactCreate, ProfileUpdate, RecordCreate
from console_api.audit_trail import note_audit
from console_api.care_deps import BreakGlassHeader, RequesterDep
from console_api.deps import CareSettingsDep, IdentitySettingsDep, SessionDep
from console_api.schemas.care_records import (
    AccessLogEntry,
    AllergyView,
    Chart,
    ConditionView,
    ContactView,
    EmergencySummary,
    ProfileView,
    RecordView,
)

router = APIRouter(tags=["care: records"])
ME = "/api/v1/patients/me"


@router.get(f"{ME}/profile", response_model=ProfileView, summary="My patient profile")
async def get_profile(db_session: SessionDep, requester: RequesterDep) -> dict[str, Any]:
    """404 until the patient has PUT one."""
    return records.profile_view(await records.get_profile(db_session=db_session,
                                                          requester=requester))


@router.put(f"{ME}/profile", response_model=ProfileView,
            summary="Create or replace my patient profile")
async def put_profile(body: ProfileUpdate, db_session: SessionDep, requester: RequesterDep
                      ) -> dict[str, Any]:
    """Patients only."""
    patient = await records.put_profile(db_session=db_session, requester=requester, body=body)
    return records.profile_view(patient)


@router.get(f"{ME}/records", response_model=Chart, summary="My chart")
async def my_records(db_session: SessionDep, requester: RequesterDep,
                     care_settings: CareSettingsDep) -> dict[str, Any]:
    """Records, allergies, conditions and contacts."""
    return await records.read_my_records(db_session=db_session, requester=requester,
                                         settings=care_settings)


@router.post(f"{ME}/emergency-contacts", response_model=ContactView,
             status_code=status.HTTP_201_CREATED,
             summary="Add an emergency contact")
async def add_contact(body: ContactCreate, db_session: SessionDep, requester: RequesterDep
                      ) -> dict[str, Any]:
    """Phone numbers in international form."""
    contact = await records.add_contact(db_session=db_session, requester=requester, body=body)
    return {"id": str(contact.id), "name": contact.name, "relationship": contact.relationship,
            "phone": contact.phone}


@router.delete(f"{ME}/emergency-contacts/{{contact_id}}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Remove an emergency contact")
async def remove_contact(contact_id: uuid.UUID, db_session: SessionDep, requester: RequesterDep
                         ) -> Response:
    """404 when it is not yours."""
    await records.remove_contact(db_session=db_session, requester=requester,
                                 contact_id=contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(f"{ME}/allergies", response_model=AllergyView, status_code=status.HTTP_201_CREATED,
             summary="Add an allergy")
async def add_allergy(body: AllergyCreate, db_session: SessionDep, requester: RequesterDep
                      ) -> dict[str, Any]:
    """Shown to the crew in an emergency."""
    allergy = await records.add_allergy(db_session=db_session, requester=requester, body=body)
    return {"id": str(allergy.id), "substance": allergy.substance, "reaction": allergy.reaction,
            "severity": allergy.severity}


@router.post(f"{ME}/conditions", response_model=ConditionView,
             status_code=status.HTTP_201_CREATED, summary="Add a condition")
async def add_condition(body: ConditionCreate, db_session: SessionDep, requester: RequesterDep
                        ) -> dict[str, Any]:
    """Active conditions are shown to the crew in an emergency."""
    condition = await records.add_condition(db_session=db_session, requester=requester,
                                            body=body)
    return {"id": str(condition.id), "name": condition.name, "code": condition.code,
            "clinical_status": condition.clinical_status}


@router.get("/api/v1/patients/{patient_id}/records", response_model=Chart,
            summary="A patient's chart")
async def patient_records(care_settings: CareSettingsDep, patient_id: uuid.UUID, request: Request,
                          db_session: SessionDep,
                          requester: RequesterDep,
                          break_glass_reason: BreakGlassHeader = None) -> dict[str, Any]:
    """The patient, or a doctor with an appointment or case with them, or break-glass."""
    chart = await records.read_records(db_session=db_session, requester=requester,
                                       patient_id=patient_id,
                                       break_glass_reason=break_glass_reason,
                                       settings=care_settings)
    basis = chart["access"]["basis"]
    # The audit row names the patient; a break-glass read is a priority row with its reason.
    note_audit(request, patient_id=patient_id, grant=basis,
               reason=break_glass_reason if basis == "break_glass" else None)
    return chart


@router.post("/api/v1/patients/{patient_id}/records", response_model=RecordView,
             status_code=status.HTTP_201_CREATED,
             summary="Add a record (treating doctor)")
async def add_record(care_settings: CareSettingsDep, patient_id: uuid.UUID, body: RecordCreate,
                     db_session: SessionDep,
                     requester: RequesterDep) -> dict[str, Any]:
    """Visit, lab, prescription or discharge, with a JSON payload."""
    record = await records.add_record(db_session=db_session, requester=requester,
                                      patient_id=patient_id, body=body, settings=care_settings)
    return records.record_view(record)


@router.get("/api/v1/patients/{patient_id}/access-log", response_model=list[AccessLogEntry],
            summary="Who read this patient's data")
async def access_log(patient_id: uuid.UUID, db_session: SessionDep, requester: RequesterDep
                     ) -> list[dict[str, Any]]:
    """The patient themself or a super admin; break-glass reads are flagged."""
    return await records.access_log(db_session=db_session, requester=requester,
                                    patient_id=patient_id)


@router.get("/api/v1/emergency/cases/{case_id}/patient-summary", response_model=EmergencySummary,
            summary="Emergency summary of the SOS patient (staff)")
async def case_summary(case_id: uuid.UUID, db_session: SessionDep, requester: RequesterDep
                       ) -> dict[str, Any]:
    """Blood group, allergies, conditions and contacts; every read is audited."""
    return await emergency_summary.emergency_summary(db_session=db_session, requester=requester,
                                           case_id=case_id)


@router.get("/api/v1/crew/{token}/patient-summary", response_model=EmergencySummary,
            summary="Emergency summary of the SOS patient (crew link)")
async def crew_summary(token: str, db_session: SessionDep, settings: IdentitySettingsDep
                       ) -> dict[str, Any]:
    """The crew of the live dispatch; every read is audited."""
    return await emergency_summary.crew_summary(db_session=db_session, token=token,
                                      secret=settings.secret_key)
