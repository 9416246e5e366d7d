"""Emergency case endpoints: SOS intake, reading, and the lifecycle actions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from console_api.case_deps import ReadableCase
from console_api.deps import (
    CurrentClaims,
    DestinationsDep,
    DispatchCostDep,
    DispatchSettingsDep,
    IdentitySettingsDep,
    LivePositionsDep,
    OptionalClaims,
    SessionDep,
    SessionFactoryDep,
    actor_of,
)
from console_api.limits import sos_looks_abusive
from console_api.params import IfMatchHeader, expected_version
from console_api.responses import FeatureCollection
from console_api.views import case_view
from data.errors import InvalidInput
from data.failover import retry_once_on_failover
from data.idempotency import IdempotencyKey
from dispatch import call_taking, case_detail, dispatching
from dispatch import service as case_service
from dispatch.case_tokens import issue_case_token
from dispatch.lifecycle import CaseAction, CaseStatus
from dispatch.schemas import (
    ArriveRequest,
    CancelRequest,
    CasePage,
    CaseView,
    CloseRequest,
    DispatchRequest,
    SosRequest,
    SosResponse,
    TriageRequest,
)
from identity import authz
from identity.roles import allowed
from identity.tokens import AccessClaims

router = APIRouter(prefix="/api/v1/emergency", tags=["emergency"])

NO_KEY_WARNING = (
    "no Idempotency-Key header was sent: this SOS was accepted, but retries of it "
    "will not be deduplicated"
)

IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Client-chosen key; the same key and body within 24 h return the same case.",
    ),
]
@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    response_model=SosResponse,
    summary="Raise an SOS (open to anonymous callers)",
)
async def raise_sos(
    session_factory: SessionFactoryDep,
    body: SosRequest,
    response: Response,
    db_session: SessionDep,
    settings: IdentitySettingsDep,
    claims: OptionalClaims,
    destinations: DestinationsDep,
    request: Request,
    dispatch_settings: DispatchSettingsDep,
    idempotency_key: IdempotencyHeader = None,
) -> SosResponse:
    """An emergency is never refused on a technicality: a missing key only adds a warning, and a
    caller over the abuse limits is still accepted, flagged ``suspected_abuse`` for the operator."""
    body = call_taking.as_taken_by(body, claims)
    key = None
    if idempotency_key is not None:
        scope = f"user:{claims.user_id}" if claims else f"phone:{body.reporter_phone}"
        key = IdempotencyKey(scope=scope, key=idempotency_key)
    suspected_abuse = await sos_looks_abusive(request, body.reporter_phone)
    unverified_caller = getattr(request.state, "unverified_caller", None) is not None

    async def raise_on(session: AsyncSession) -> case_service.RaisedCase:
        return await case_service.raise_case(
            db_session=session,
            request=body,
            actor=actor_of(claims, fallback=f"reporter:{body.reporter_phone}"),
            idempotency_key=key,
            destinations=destinations,
            suspected_abuse=suspected_abuse,
            may_link_any_patient=claims is not None and allowed(set(claims.roles), "case.triage"),
            unverified_caller=unverified_caller, settings=dispatch_settings,
        )

    # A primary lost mid-transaction: once more on the new primary, same key (data/failover.py).
    raised = await retry_once_on_failover(db_session, session_factory, raise_on)
    if body.severity is not None and not raised.replayed:
        raised = await call_taking.triage_at_once(
            db_session=db_session, raised=raised, body=body, actor=actor_of(claims),
            destinations=destinations, settings=dispatch_settings,
        )
    if raised.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"{router.prefix}/cases/{raised.case.id}"
    response.headers["ETag"] = f'"{raised.case.version}"'
    view = case_view(raised.case)
    return SosResponse(
        **view.model_dump(),
        case_token=issue_case_token(raised.case.id, secret=settings.secret_key),
        idempotent_replay=raised.replayed,
        warnings=[] if key else [NO_KEY_WARNING],
    )


@router.get("/cases/{case_id}", response_model=CaseView, summary="Read one case")
async def read_case(
    dispatch_settings: DispatchSettingsDep,
    case: ReadableCase,
    live_fleet: LivePositionsDep,
    response: Response,
    destinations: DestinationsDep,
    db_session: SessionDep,
    claims: OptionalClaims,
    cost: DispatchCostDep,
) -> CaseView:
    """Whoever :data:`~console_api.case_deps.ReadableCase` lets in; the anonymous reporter sees
    their ambulance and destination, not the options."""
    events = await case_service.case_events(db_session=db_session, case_id=case.id)
    response.headers["ETag"] = f'"{case.version}"'
    view = case_view(case, events)
    extras = await case_detail.case_extras(
        db_session=db_session, live_fleet=live_fleet, destinations=destinations, case=case,
        coverage=cost if claims else None, settings=dispatch_settings,
    )
    await call_taking.shared_dispatch(
        db_session=db_session, case=case, extras=extras, settings=dispatch_settings
    )
    if claims is None:  # the reporter sees their ambulance and destination, not the options
        extras["recommended_units"] = []
        extras["recommended_plan"] = None
        extras["timeline"] = []
    return view.model_copy(update=extras)


@router.get(
    "/cases/{case_id}/routes",
    response_model=FeatureCollection,
    summary="Route lines (GeoJSON) from the scene to the destination and recommended hospitals",
)
async def read_case_routes(
    case: ReadableCase,
    destinations: DestinationsDep,
    claims: OptionalClaims,
) -> dict[str, Any]:
    """A FeatureCollection of routes under the closures in force; a reporter sees only theirs."""
    routes = await case_detail.case_routes(destinations=destinations, case=case)
    if claims is None:
        routes["features"] = [f for f in routes["features"] if f["properties"]["destination"]]
    return routes


@router.get("/cases", response_model=CasePage, summary="List cases, newest first (staff)")
async def list_cases(
    db_session: SessionDep,
    claims: CurrentClaims,
    status_filter: Annotated[
        list[CaseStatus] | None, Query(alias="status", description="repeat for several")
    ] = None,
    since: Annotated[datetime | None, Query(description="only cases raised at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> CasePage:
    """Keyset pagination: pass ``next_cursor`` back as ``cursor``."""
    if since is not None and since.tzinfo is None:
        raise InvalidInput("since needs a timezone, e.g. 2026-01-01T00:00:00Z", field="since")
    scope = authz.list_scope(claims.roles, claims.hospital_id)
    if scope is False:
        return CasePage(items=[], next_cursor=None)
    cases, next_cursor = await case_service.list_cases(
        db_session=db_session, statuses=status_filter, since=since, limit=limit, cursor=cursor,
        bound_for_hospital=scope,
    )
    return CasePage(items=[case_view(c) for c in cases], next_cursor=next_cursor)


def _respond(response: Response, case) -> CaseView:
    response.headers["ETag"] = f'"{case.version}"'
    return case_view(case)


@router.post("/cases/{case_id}/triage", response_model=CaseView, summary="Triage a case")
async def triage_case(
    dispatch_settings: DispatchSettingsDep,
    case_id: uuid.UUID,
    body: TriageRequest,
    response: Response,
    db_session: SessionDep,
    claims: CurrentClaims,
    destinations: DestinationsDep,
    if_match: IfMatchHeader = None,
) -> CaseView:
    """Set severity; legal from raised (and triaged, to correct it before dispatch)."""
    case = await case_service.triage(
        db_session=db_session,
        case_id=case_id,
        severity=body.severity.value,
        required_capability=body.required_capability,
        actor=actor_of(claims),
        expected_version=expected_version(if_match),
        destinations=destinations, settings=dispatch_settings,
    )
    return _respond(response, case)


@router.post("/cases/{case_id}/dispatch", response_model=CaseView, summary="Dispatch a case")
async def dispatch_case(
    dispatch_settings: DispatchSettingsDep,
    case_id: uuid.UUID,
    response: Response,
    db_session: SessionDep,
    claims: CurrentClaims,
    live_fleet: LivePositionsDep,
    destinations: DestinationsDep,
    settings: IdentitySettingsDep,
    body: DispatchRequest | None = None,
    if_match: IfMatchHeader = None,
) -> CaseView:
    """Assign a unit and destination hospital."""
    body = body or DispatchRequest()
    case = await dispatching.dispatch_case(
        db_session=db_session,
        live_fleet=live_fleet,
        destinations=destinations,
        case_id=case_id,
        hospital_id=body.hospital_id,
        unit_id=body.unit_id,
        actor=actor_of(claims),
        secret=settings.secret_key,
        expected_version=expected_version(if_match),
        unit_ids=body.unit_ids,
        reason=body.reason, settings=dispatch_settings,
    )
    return _respond(response, case)


async def _simple_action(
    action: CaseAction,
    case_id: uuid.UUID,
    response: Response,
    db_session: SessionDep,
    claims: AccessClaims,
    reason: str | None,
    if_match: str | None,
) -> CaseView:
    case = await dispatching.finish_case(
        db_session=db_session,
        case_id=case_id,
        action=action,
        actor=actor_of(claims),
        reason=reason,
        expected_version=expected_version(if_match),
    )
    return _respond(response, case)


@router.post("/cases/{case_id}/arrive", response_model=CaseView, summary="Unit arrived on scene")
async def arrive_case(
    case_id: uuid.UUID,
    response: Response,
    db_session: SessionDep,
    claims: CurrentClaims,
    body: ArriveRequest | None = None,
    if_match: IfMatchHeader = None,
) -> CaseView:
    """Legal from dispatched."""
    return await _simple_action(
        CaseAction.ARRIVE, case_id, response, db_session, claims, None, if_match
    )


@router.post("/cases/{case_id}/close", response_model=CaseView, summary="Close a case")
async def close_case(
    case_id: uuid.UUID,
    response: Response,
    db_session: SessionDep,
    claims: CurrentClaims,
    body: CloseRequest | None = None,
    if_match: IfMatchHeader = None,
) -> CaseView:
    """Legal from arrived; final."""
    reason = body.reason if body else None
    return await _simple_action(
        CaseAction.CLOSE, case_id, response, db_session, claims, reason, if_match
    )


@router.post("/cases/{case_id}/cancel", response_model=CaseView, summary="Cancel a case")
async def cancel_case(
    case_id: uuid.UUID,
    body: CancelRequest,
    response: Response,
    db_session: SessionDep,
    claims: CurrentClaims,
    if_match: IfMatchHeader = None,
) -> CaseView:
    """Legal from any open state, with a reason; final."""
    return await _simple_action(
        CaseAction.CANCEL, case_id, response, db_session, claims, body.reason, if_match
    )
