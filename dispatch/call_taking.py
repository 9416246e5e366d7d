"""Calls an operator takes on the phone: the fields only they may set, and their effects."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import InvalidInput
from dispatch import case_detail, dispatching
from dispatch import service as case_service
from dispatch.case_events import Actor
from dispatch.destinations import Destinations
from dispatch.models import EmergencyCase
from dispatch.schemas import SosRequest
from dispatch.service import RaisedCase
from dispatch.settings import DispatchSettings
from identity.roles import allowed
from identity.tokens import AccessClaims


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
    *,
    db_session: AsyncSession, raised: RaisedCase, body: SosRequest, actor: Actor,
    destinations: Destinations, settings: DispatchSettings,
) -> RaisedCase:
    """The call-taker set severity on the call: triage it now (its own audited event)."""
    if body.severity is None:
        return raised
    case = await case_service.triage(
        db_session=db_session, case_id=raised.case.id, severity=body.severity.value,
        required_capability=None, actor=actor, destinations=destinations, settings=settings,
    )
    return replace(raised, case=case)


async def shared_dispatch(
    *,
    db_session: AsyncSession,
    case: EmergencyCase,
    extras: dict[str, Any],
    settings: DispatchSettings,
) -> None:
    """A linked call shows the primary's unit and destination: one ambulance for one incident."""
    if case.linked_to is None or extras.get("dispatch"):
        return
    dispatch = await dispatching.active_dispatch(db_session=db_session, case_id=case.linked_to)
    if dispatch is not None:
        extras["dispatch"] = {**case_detail.dispatch_view(dispatch, utcnow(), settings=settings),
                              "shared_with": str(case.linked_to)}
        extras["recommended_units"] = []
