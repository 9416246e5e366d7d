"""Sending a unit to a hospital the rules would not pick needs the operator's reason, and shows.

A hospital that lacks the capability the case requires, or whose ED is diverting or closed, is
never used silently: without a ``reason`` the dispatch is refused (422, the concerns listed);
with one it goes ahead, the reason is in the audit event and an amber alert stays on the case.
The recommendation's own choices (including its nearest-general-ED fallback) need no reason
unless the ED has stopped taking patients since.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from data.errors import InvalidInput
from dispatch.lifecycle import CaseAction, CaseStatus, transition
from dispatch.models import EmergencyCase
from facilities.capabilities import satisfies
from facilities.models import Hospital

ALERT_KIND = "destination_override"


def concerns(
    *,
    capabilities: list[str], ed_status: str, required: str | None, recommended: bool,
    diversion_overridden: bool = False,
) -> list[str]:
    """Why a destination needs a reason (empty: it does not).

    A diverting hospital the recommendation itself chose under the clinical diversion policy
    (``diversion_overridden``: a critical patient, much nearer) needs none.
    """
    found = []
    if ed_status == "closed" or (ed_status == "diverting" and not diversion_overridden):
        found.append(f"its ED is {ed_status}")
    if not recommended and required and not satisfies(capabilities, required):
        found.append(f"it lacks {required}")
    return found


async def check(
    *,
    db_session: AsyncSession, case: EmergencyCase, hospital_id: uuid.UUID | None,
    reason: str | None,
) -> list[str]:
    """The concerns about sending ``case`` to ``hospital_id``; refuses them without a reason."""
    transition(CaseStatus(case.status), CaseAction.DISPATCH)  # an illegal move is a 409 first
    if hospital_id is None:
        return []
    hospital = await db_session.get(Hospital, hospital_id)
    if hospital is None:
        return []
    recommendation = case.recommendation or {}
    recommended = {
        h.get("hospital_id"): h for h in recommendation.get("hospitals", [])
    }
    pick = recommended.get(str(hospital_id)) or {}
    found = concerns(
        capabilities=list(hospital.capabilities or []), ed_status=hospital.ed_status,
        required=case.required_capability or recommendation.get("required_capability"),
        recommended=str(hospital_id) in recommended,
        diversion_overridden=bool(pick.get("diversion_overridden")),
    )
    if found and not (reason and reason.strip()):
        raise InvalidInput(
            f"{hospital.name}: {' and '.join(found)}; send it anyway only with a reason",
            field="reason", code="destination_needs_reason",
        )
    return [f"{hospital.name}: {c}" for c in found]


async def alert(
    *,
    db_session: AsyncSession, case: EmergencyCase, found: list[str], reason: str | None
) -> None:
    """The amber alert of an overridden destination, in the dispatch's transaction."""
    # alerts -> case_detail -> dispatching -> this module: imported when first needed.
    from dispatch import alerts

    if found:
        await alerts.raise_alert(
            db_session=db_session, case=case, kind=ALERT_KIND, level="amber",
            message=f"sent against the rules ({'; '.join(found)}); reason: {reason}",
        )
