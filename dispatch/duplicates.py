"""Duplicate calls: flag a new case near an open one, and let the operator link or dismiss it.

Several people call about the same crash. A case raised within ``duplicate_radius_m`` and
``duplicate_minutes`` of an open case is flagged ``possible_duplicate_of``; linking makes it follow
the primary step by step (``dispatch.linked_cases``: it is closed when the primary closes,
cancelled when it is cancelled); dismissing clears the flag. Both are audited like any other
change of a case.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import Conflict, InvalidInput, PreconditionFailed
from dispatch import linked_cases
from dispatch.case_events import Actor, add_case_event
from dispatch.duplicate_flag import possible_duplicate
from dispatch.lifecycle import FINAL_STATUSES, CaseStatus
from dispatch.models import EmergencyCase, EmergencyDispatch
from dispatch.service import commit_change, get_case


def _check_version(case: EmergencyCase, expected: int | None) -> None:
    if expected is not None and case.version != expected:
        raise PreconditionFailed(f"case is at version {case.version}, not {expected}",
                                 current_version=case.version)


def _note(db_session: AsyncSession, case: EmergencyCase, *, action: str, actor: Actor,
          reason: str | None, details: dict[str, str]) -> None:
    """An audited change that is not a move of the lifecycle (status stays as it is)."""
    add_case_event(db_session=db_session, case=case, action=action, from_status=case.status,
                   actor=actor,
                   reason=reason, at=utcnow(), details=details)


async def link(
    *,
    db_session: AsyncSession,
    case_id: uuid.UUID,
    to: uuid.UUID,
    actor: Actor,
    expected_version: int | None = None,
) -> EmergencyCase:
    """Make ``case_id`` follow the primary ``to``: it shares its dispatch and closes with it."""
    if to == case_id:
        raise InvalidInput("a case cannot be linked to itself", field="to", code="link_to_self")
    case = await get_case(db_session=db_session, case_id=case_id)
    primary = await get_case(db_session=db_session, case_id=to)
    _check_version(case, expected_version)
    if CaseStatus(case.status) in FINAL_STATUSES:
        raise Conflict("this case is final; it cannot be linked", code="case_final")
    if CaseStatus(primary.status) in FINAL_STATUSES:
        raise Conflict("the primary case is final; link to an open case", code="primary_final")
    if primary.linked_to is not None:
        raise Conflict(f"case {to} is itself linked to {primary.linked_to}; link to that one",
                       code="primary_is_linked")
    if case.linked_to == to:
        return case
    if await db_session.scalar(select(EmergencyDispatch.id).where(
            EmergencyDispatch.case_id == case.id, EmergencyDispatch.completed_at.is_(None))):
        raise Conflict("this call has a unit of its own; link the other call to it instead",
                       code="case_has_unit")
    # Calls already linked to this one follow the new primary: one incident, one primary.
    moved = await linked_cases.followers(db_session=db_session, primary_id=case.id)
    for follower in [case, *moved]:
        was = follower.linked_to
        follower.linked_to = to
        follower.possible_duplicate_of = None
        _note(db_session, follower, action="link", actor=actor,
              reason=f"same incident as case {to}",
              details={"linked_to": str(to), **({"was_linked_to": str(was)} if was else {})})
        # It joins the primary where it stands: triaged, dispatched... as the primary is.
        linked_cases.bring_along(db_session=db_session, follower=follower, primary=primary,
                                 actor=actor)
    await commit_change(db_session=db_session)
    return case


async def dismiss(
    *,
    db_session: AsyncSession,
    case_id: uuid.UUID,
    actor: Actor,
    expected_version: int | None = None,
) -> EmergencyCase:
    """The operator judged the flagged case a separate incident: the flag goes, audited."""
    case = await get_case(db_session=db_session, case_id=case_id)
    _check_version(case, expected_version)
    if case.possible_duplicate_of is None:
        raise Conflict("this case is not flagged as a possible duplicate", code="not_flagged")
    other = case.possible_duplicate_of
    case.possible_duplicate_of = None
    _note(db_session, case, action="not_duplicate", actor=actor,
          reason=f"not the same incident as case {other}", details={"was_flagged_as": str(other)})
    await commit_change(db_session=db_session)
    return case


__all__ = ["dismiss", "link", "possible_duplicate"]
