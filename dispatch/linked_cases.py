"""A linked duplicate call follows its primary: every step the primary takes, it takes too.

One incident, several calls. The primary carries the unit; each linked call moves with it
(triaged with its severity, dispatched to its hospital, arrived, closed), each step timestamped,
audited in ``case_events`` and written to the outbox in the primary's own transaction. When the
primary is cancelled its linked calls are cancelled with it, saying why: in a CAD the calls
attached to an incident share its disposition (a caller ringing back "he is fine", a hoax, a
false alarm is so for every call about it). An operator who judges one call a separate
emergency cancels or keeps it open *before* cancelling the primary: only open calls still
linked follow.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from data.errors import Conflict
from dispatch.case_events import apply_action
from dispatch.lifecycle import OPEN_STATUSES, CaseAction, CaseStatus
from dispatch.models import EmergencyCase

if TYPE_CHECKING:
    from dispatch.case_events import Actor

#: The road every case walks; a linked call walks it up to where its primary stands.
PATH = (CaseStatus.RAISED, CaseStatus.TRIAGED, CaseStatus.DISPATCHED, CaseStatus.ARRIVED,
        CaseStatus.CLOSED)
STEP_INTO = {
    CaseStatus.TRIAGED: CaseAction.TRIAGE,
    CaseStatus.DISPATCHED: CaseAction.DISPATCH,
    CaseStatus.ARRIVED: CaseAction.ARRIVE,
    CaseStatus.CLOSED: CaseAction.CLOSE,
}


class CaseIsLinked(Conflict):
    """A linked call follows its primary; only cancelling it on its own is the operator's."""

    code = "case_linked"
    title = "The case follows its primary"


def catch_up(
    follower: CaseStatus, primary: CaseStatus, *, retriage: bool = False
) -> list[CaseAction]:
    """The actions that bring a linked call from ``follower`` to its primary's ``primary``.

    ``retriage``: the primary was just (re-)triaged, so a triaged follower takes the new
    severity too. A final follower, or one already ahead, takes no step.
    """
    if follower not in OPEN_STATUSES:
        return []
    if primary is CaseStatus.CANCELLED:
        return [CaseAction.CANCEL]
    here, there = PATH.index(follower), PATH.index(primary)
    steps = [STEP_INTO[s] for s in PATH[here + 1: there + 1]]
    if retriage and not steps and follower is primary is CaseStatus.TRIAGED:
        steps = [CaseAction.TRIAGE]
    return steps


def refuse_direct(case: EmergencyCase, action: CaseAction) -> None:
    """A linked call moves only with its primary, except that it may be cancelled on its own."""
    if case.linked_to is not None and action is not CaseAction.CANCEL:
        raise CaseIsLinked(
            f"this call is linked to case {case.linked_to} and follows it; "
            f"{action.value} that case instead", primary=str(case.linked_to),
        )


def _reason(primary: EmergencyCase, action: CaseAction) -> str:
    if action is CaseAction.CANCEL:
        return f"cancelled with case {primary.id}: {primary.cancel_reason}"
    if action is CaseAction.CLOSE:
        return f"closed with case {primary.id}" + (
            f": {primary.close_reason}" if primary.close_reason else "")
    return f"follows case {primary.id}"


def bring_along(
    *,
    db_session: AsyncSession, follower: EmergencyCase, primary: EmergencyCase, actor: Actor,
    retriage: bool = False,
) -> None:
    """Stage the steps that put ``follower`` where ``primary`` stands (no commit)."""
    for action in catch_up(CaseStatus(follower.status), CaseStatus(primary.status),
                           retriage=retriage):
        changes: dict[str, object] = {"destination_hospital_id": primary.destination_hospital_id}
        if action is CaseAction.TRIAGE:
            changes.update(severity=primary.severity,
                           required_capability=primary.required_capability)
        details: dict[str, object] = {"follows": str(primary.id)}
        if action is CaseAction.TRIAGE:
            details["severity"] = primary.severity
        apply_action(db_session=db_session, case=follower, action=action, actor=actor,
                     reason=_reason(primary, action),
                     changes=changes, details=details)


async def followers(*, db_session: AsyncSession, primary_id: uuid.UUID) -> list[EmergencyCase]:
    """The open calls linked to ``primary_id``, oldest first (no autoflush: the primary's change
    is flushed, and version-checked, by its commit, where a lost race is a 409)."""
    with db_session.no_autoflush:
        return list(await db_session.scalars(
            select(EmergencyCase)
            .where(EmergencyCase.linked_to == primary_id,
                   EmergencyCase.status.in_([s.value for s in OPEN_STATUSES]))
            .order_by(EmergencyCase.raised_at, EmergencyCase.id)
        ))


async def follow(
    *,
    db_session: AsyncSession, primary: EmergencyCase, action: CaseAction, actor: Actor
) -> None:
    """Staged with each move of ``primary``: its open linked calls take the same step."""
    for follower in await followers(db_session=db_session, primary_id=primary.id):
        bring_along(db_session=db_session, follower=follower, primary=primary, actor=actor,
                    retriage=action is CaseAction.TRIAGE)


__all__ = ["CaseIsLinked", "bring_along", "catch_up", "follow", "followers", "refuse_direct"]
