"""The case state machine as a transition table, pure so it can be proven by property tests."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from data.errors import Conflict, InvalidInput


class CaseStatus(StrEnum):
    """Where a case stands; ``closed`` and ``cancelled`` are final."""

    RAISED = "raised"
    TRIAGED = "triaged"
    DISPATCHED = "dispatched"
    ARRIVED = "arrived"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class CaseAction(StrEnum):
    """What an operator (or a crew update) can do to a case."""

    TRIAGE = "triage"
    DISPATCH = "dispatch"
    ARRIVE = "arrive"
    CLOSE = "close"
    CANCEL = "cancel"


FINAL_STATUSES = frozenset({CaseStatus.CLOSED, CaseStatus.CANCELLED})
OPEN_STATUSES = frozenset(CaseStatus) - FINAL_STATUSES

#: Every legal move. Re-triage (triaged -> triaged) lets an operator correct severity before
#: dispatch; cancel is possible from every open state and needs a reason.
TRANSITIONS: dict[tuple[CaseStatus, CaseAction], CaseStatus] = {
    (CaseStatus.RAISED, CaseAction.TRIAGE): CaseStatus.TRIAGED,
    (CaseStatus.TRIAGED, CaseAction.TRIAGE): CaseStatus.TRIAGED,
    (CaseStatus.TRIAGED, CaseAction.DISPATCH): CaseStatus.DISPATCHED,
    (CaseStatus.DISPATCHED, CaseAction.ARRIVE): CaseStatus.ARRIVED,
    (CaseStatus.ARRIVED, CaseAction.CLOSE): CaseStatus.CLOSED,
    **{(status, CaseAction.CANCEL): CaseStatus.CANCELLED for status in OPEN_STATUSES},
}

#: The timestamp column stamped when a case enters each status.
STATUS_TIMESTAMP = {
    CaseStatus.RAISED: "raised_at",
    CaseStatus.TRIAGED: "triaged_at",
    CaseStatus.DISPATCHED: "dispatched_at",
    CaseStatus.ARRIVED: "arrived_at",
    CaseStatus.CLOSED: "closed_at",
    CaseStatus.CANCELLED: "cancelled_at",
}


class InvalidTransition(Conflict):
    """The action is not legal from the case's current status."""

    code = "invalid_transition"
    title = "Illegal case transition"


@dataclass(frozen=True)
class Transition:
    """The outcome of a legal action, to be persisted with its event."""

    action: CaseAction
    from_status: CaseStatus
    to_status: CaseStatus
    reason: str | None


def allowed_actions(status: CaseStatus) -> list[CaseAction]:
    """Actions legal from ``status``, for clients to enable the right buttons."""
    return [action for (source, action) in TRANSITIONS if source == status]


def transition(status: CaseStatus, action: CaseAction, *, reason: str | None = None) -> Transition:
    """Decide a move; raise :class:`InvalidTransition` when it is not in the table."""
    target = TRANSITIONS.get((status, action))
    if target is None:
        final = " (the case is final)" if status in FINAL_STATUSES else ""
        raise InvalidTransition(
            f"cannot {action.value} a case that is {status.value}{final}",
            current_status=status.value,
            allowed_actions=[a.value for a in allowed_actions(status)],
        )
    reason = reason.strip() if reason else None
    if action is CaseAction.CANCEL and not reason:
        raise InvalidInput("a cancellation needs a reason", field="reason", code="reason_required")
    return Transition(action=action, from_status=status, to_status=target, reason=reason)
