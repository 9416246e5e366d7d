"""The duplicate-call link and dismiss; what an operator taking a call may set is in
:mod:`dispatch.call_taking`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from console_api.deps import CurrentClaims, SessionDep, actor_of
from console_api.views import case_view
from dispatch import duplicates
from dispatch.schemas import CaseView, LinkRequest

router = APIRouter(prefix="/api/v1/emergency", tags=["emergency"])

@router.post("/cases/{case_id}/link", response_model=CaseView,
             summary="Link a duplicate call to the primary case (shares its dispatch)")
async def link_case(
    case_id: uuid.UUID,
    body: LinkRequest,
    response: Response,
    db_session: SessionDep,
    claims: CurrentClaims,
) -> CaseView:
    """Audited; the linked case then takes every step of the primary (``dispatch.linked_cases``)."""
    case = await duplicates.link(
        db_session=db_session, case_id=case_id, to=body.to, actor=actor_of(claims)
    )
    response.headers["ETag"] = f'"{case.version}"'
    return case_view(case)


@router.post("/cases/{case_id}/duplicate/dismiss", response_model=CaseView,
             summary="Not a duplicate: clear the possible-duplicate flag")
async def dismiss_duplicate(
    case_id: uuid.UUID,
    response: Response,
    db_session: SessionDep,
    claims: CurrentClaims,
) -> CaseView:
    """Audited."""
    case = await duplicates.dismiss(db_session=db_session, case_id=case_id, actor=actor_of(claims))
    response.headers["ETag"] = f'"{case.version}"'
    return case_view(case)
