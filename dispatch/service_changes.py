"""When a hospital service changes (set by its admin, or expired), open cases that need that
capability get a fresh recommendation; cases needing anything else are left alone."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from dispatch.case_events import Actor, add_case_event
from dispatch.destination_choice import assess_destinations
from dispatch.destinations import Destinations
from dispatch.lifecycle import CaseStatus
from dispatch.models import EmergencyCase
from dispatch.settings import DispatchSettings
from dispatch.triage_rules import required_capability
from facilities import services as facility_services

log = logging.getLogger(__name__)

#: Cases whose destination is still a recommendation (after dispatch the operator redirects).
UNDISPATCHED = (CaseStatus.RAISED.value, CaseStatus.TRIAGED.value)


def needs(case: EmergencyCase) -> str:
    """The capability a case requires (the operator's choice, else the symptom's rule)."""
    if case.required_capability:
        return case.required_capability
    capability, _ = required_capability(case.symptom_category, case.severity)
    return capability.value


async def reassess_open_cases(
    *,
    db_session: AsyncSession,
    destinations: Destinations | None,
    changes: Iterable[tuple[str | None, str]],
    actor: Actor,
    settings: DispatchSettings,
) -> list[EmergencyCase]:
    """Re-rank the undispatched cases of each ``(region, capability)`` changed; the caller
    commits. Each re-ranked case gets a ``reassess`` event (timeline and live push)."""
    wanted = {(region, capability) for region, capability in changes if region is not None}
    if not wanted:
        return []
    cases = await db_session.scalars(
        select(EmergencyCase)
        .where(
            EmergencyCase.status.in_(UNDISPATCHED),
            EmergencyCase.region.in_({region for region, _ in wanted}),
        )
        .with_for_update()
    )
    touched = []
    for case in cases:
        capability = needs(case)
        if (case.region, capability) not in wanted:
            continue
        await assess_destinations(db_session=db_session, case=case, destinations=destinations,
                                  settings=settings)
        add_case_event(
            db_session=db_session, case=case, action="reassess", from_status=case.status,
            actor=actor,
            reason=f"{capability} service status changed", at=utcnow(),
            details={"capability": capability},
        )
        touched.append(case)
    return touched


async def expire_services(
    *,
    db_session: AsyncSession, destinations: Destinations | None, settings: DispatchSettings
) -> int:
    """Revert every service status past its end time and re-rank the cases it touches; commits."""
    reverted = await facility_services.expire_due(db_session=db_session)
    if reverted:
        await reassess_open_cases(
            db_session=db_session,
            destinations=destinations,
            changes=[(hospital.region, capability) for hospital, capability in reverted],
            actor=Actor(user_id=None, label="system:service-expiry"),
            settings=settings,
        )
    await db_session.commit()
    return len(reverted)
