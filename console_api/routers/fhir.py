"""The read-only FHIR R4 facade: ``application/fhir+json``, the native API's rules and audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from care import fhir, fhir_map
from console_api.care_deps import BreakGlassHeader, RequesterDep
from console_api.deps import CareSettingsDep, SessionDep
from console_api.responses import FHIR_JSON as FHIR_BODY
from data.errors import InvalidInput

router = APIRouter(prefix="/fhir", tags=["fhir"])
FHIR_JSON = "application/fhir+json"


def _fhir(resource) -> Response:
    return Response(content=resource.model_dump_json(), media_type=FHIR_JSON)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + router.prefix


@router.get("/metadata", summary="CapabilityStatement", responses={200: FHIR_BODY})
async def metadata(request: Request) -> Response:
    """What this server serves; public, as FHIR expects."""
    return _fhir(fhir.metadata(base_url=_base(request)))


@router.get("/{resource}/{resource_id}", summary="Read a resource", responses={200: FHIR_BODY})
async def read(care_settings: CareSettingsDep, resource: str, resource_id: str,
               db_session: SessionDep, requester: RequesterDep,
               break_glass_reason: BreakGlassHeader = None) -> Response:
    """Patient, Practitioner, Organization, Location, Appointment, Encounter."""
    return _fhir(await fhir.read(db_session=db_session, requester=requester, resource=resource,
                                 raw_id=resource_id, break_glass_reason=break_glass_reason,
                                 settings=care_settings))


@router.get("/{resource}", summary="Search by patient", responses={200: FHIR_BODY})
async def search(care_settings: CareSettingsDep, resource: str, request: Request,
                 db_session: SessionDep,
                 requester: RequesterDep,
                 patient: Annotated[str | None, Query(max_length=80)] = None,
                 organization: Annotated[str | None, Query(max_length=80)] = None,
                 break_glass_reason: BreakGlassHeader = None) -> Response:
    """Appointment?patient=, Encounter?patient= and HealthcareService?organization= as a
    searchset Bundle."""
    if resource == "HealthcareService":
        if organization is None:
            raise InvalidInput("search by organization=<hospital id> is required",
                               field="organization")
        services = await fhir.search_services(db_session=db_session, organization=organization)
        return _fhir(fhir_map.searchset(services, base_url=_base(request)))
    found = await fhir.search(db_session=db_session, requester=requester, resource=resource,
                              patient=patient, break_glass_reason=break_glass_reason,
                              settings=care_settings)
    return _fhir(fhir_map.searchset(found, base_url=_base(request)))
