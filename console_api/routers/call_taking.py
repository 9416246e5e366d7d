"""Calls taken by an operator (``source: phone``) and the duplicate-call link and dismiss."""

from __future__ import annotations

import uuid
from dataclasses import replace

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from console_api.deps import CurrentClaims, SessionDep, actor_of
from console_api.views import case_view
from data.base import utcnow
from data.errors import InvalidInput
from dispatch import case_detail, dispatching, duplicates
from dispatch import service as case_service
from dispatch.destinations import Destinations
from dispatch.schemas import CaseView, LinkRequest, SosRequest
from dispatch.service import RaisedCase
from identity.roles import allowed
from identity.tokens import AccessClaims

router = APIRouter(prefix="/api/v1/emergency", tags=["emergency"])

def as_taken_by(body: SosRequest, claims: AccessClaims | None) -> SosRequest:
    """``source: phone`` and ``severity`` are an operator's: from anyone else they are refused
    like any other field a caller may not set (the app never sends them)."""
    if claims is not None and allowed(set(claims.roles), "case.triage"):
        return body
    for field, value in (("source", body.source != "app"), ("severity", body.severity)):
        if value:
            raise InvalidInput(
                f"{field} is set only by an operator taking a call; the SOS app leaves it out",
                field=field, code="operator_field",
            )
    return body


async def triage_at_once(
    db_session: AsyncSession, raised: RaisedCase, body: SosRequest, claims: AccessClaims,
    destinations: Destinations,
) -> RaisedCase:
    """The call-taker set severity on the call: triage it now (its own audited event)."""
    case = await case_service.triage(
        db_session=db_session, case_id=raised.case.id, severity=body.severity.value,
        required_capability=None, actor=actor_of(claims), destinations=destinations,
    )
    return replace(raised, case=case)


async def shared_dispatch(db_session: AsyncSession, case, extras: dict) -> None:  # noqa: ANN001
    """A linked call shows the primary's unit and destination: one ambulance for one incident."""
    if case.linked_to is None or extras.get("dispatch"):
        return
    dispatch = await dispatching.active_dispatch(db_session, case.linked_to)
    if dispatch is not None:
        extras["dispatch"] = {**case_detail.dispatch_view(dispatch, utcnow()),
                              "shared_with": str(case.linked_to)}
        extras["recommended_units"] = []


@router.post("/cases/{case_id}/link", response_model=CaseView,
             summary="Link a duplicate call to the primary case (shares its dispatch)")
async def link_case(
    case_id: uuid.UUID,
    body: LinkRequest,
    response: Response,
    db_session: SessionDep,
    claims: CurrentClaims,
) -> CaseView:
    """Audited; the linked case is ended with the primary when the primary closes."""
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
