"""EDXL-HAVE exchange: a region's hospital status as OASIS XML, and applying such a document."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from console_api.deps import (
    CurrentClaims,
    DestinationsDep,
    DispatchSettingsDep,
    SessionDep,
    actor_of,
)
from console_api.responses import HaveApplied
from data.errors import InvalidInput, NotFound
from dispatch.hospital_side import flag_cases_bound_for
from dispatch.service_changes import reassess_open_cases
from facilities import have, have_exchange
from identity.authz import manages_hospital
from routing.models import Region

router = APIRouter(prefix="/api/v1/hospitals", tags=["hospitals"])
RegionQuery = Annotated[str, Query(min_length=1, max_length=100)]
XML_BODY = {"content": {have.MEDIA_TYPE: {"schema": {"type": "string"}}}}


async def _region(db_session: SessionDep, region: str) -> str:
    if await db_session.get(Region, region) is None:
        raise NotFound(f"no region {region!r}", code="region_not_found")
    return region


@router.get(
    "/have",
    summary="The region's hospital status as EDXL-HAVE 1.0 XML",
    response_class=Response,
    responses={200: {"content": {have.MEDIA_TYPE: {"schema": {"type": "string"}}}}},
)
async def read_have(db_session: SessionDep, region: RegionQuery) -> Response:
    """ED status, ED beds, services and last update of every hospital of the region."""
    states = await have_exchange.region_states(db_session=db_session,
                                               region=await _region(db_session, region))
    return Response(content=have.to_have(states), media_type=have.MEDIA_TYPE)


@router.post(
    "/have",
    summary="Apply an EDXL-HAVE 1.0 document (all hospitals of it, or none)",
    response_model=HaveApplied,
    openapi_extra={"requestBody": {"required": True, **XML_BODY}},
)
async def apply_have(
    dispatch_settings: DispatchSettingsDep,
    request: Request,
    db_session: SessionDep,
    destinations: DestinationsDep,
    claims: CurrentClaims,
    region: RegionQuery,
) -> dict[str, Any]:
    """Validated against the OASIS schema first (422 naming the element path); a hospital admin
    may only report for their own hospital. Open cases needing a changed service are re-ranked."""
    body = await request.body()
    if not body.strip():
        raise InvalidInput(
            "send an EDXL-HAVE XML document", field="/", code="invalid_have_document"
        )
    await _region(db_session, region)
    await asyncio.to_thread(have.schema)  # loaded once per worker, off the event loop
    reports = await asyncio.to_thread(have.parse_have, body)
    actor = actor_of(claims)
    result = await have_exchange.apply_reports(
        db_session=db_session, reports=reports, region=region,
        may_manage=lambda hid: manages_hospital(claims, hid),
        actor=actor.label,
    )
    for hospital in result.capacity_changed:
        await flag_cases_bound_for(db_session=db_session, hospital=hospital)
    reassessed = await reassess_open_cases(
        db_session=db_session, destinations=destinations, changes=result.service_changes,
        actor=actor,
        settings=dispatch_settings,
    )
    await db_session.commit()
    return {
        "hospitals": result.hospitals,
        "capacity_changed": [str(h.id) for h in result.capacity_changed],
        "service_changes": [capability for _, capability in result.service_changes],
        "ignored": result.ignored,
        "reassessed_cases": [str(c.id) for c in reassessed],
    }
