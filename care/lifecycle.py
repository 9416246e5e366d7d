"""The appointment state machine as a transition table, pure so it can be tested exhaustively."""

from __future__ import annotations

from enum import StrEnum

from data.errors import Conflict


class AppointmentStatus(StrEnum):
    """Where an appointment stands; the last four are final."""

    BOOKED = "booked"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    RESCHEDULED = "rescheduled"


class AppointmentAction(StrEnum):
    """What a patient, doctor or front desk can do to an appointment."""

    CONFIRM = "confirm"
    CHECK_IN = "check_in"
    START = "start"
    COMPLETE = "complete"
    CANCEL = "cancel"
    NO_SHOW = "no_show"
    RESCHEDULE = "reschedule"


UPCOMING = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)

TRANSITIONS: dict[tuple[AppointmentStatus, AppointmentAction], AppointmentStatus] = {
    (AppointmentStatus.BOOKED, AppointmentAction.CONFIRM): AppointmentStatus.CONFIRMED,
    (AppointmentStatus.CHECKED_IN, AppointmentAction.START): AppointmentStatus.IN_PROGRESS,
    # A doctor who forgot to press Start can still close the visit.
    (AppointmentStatus.CHECKED_IN, AppointmentAction.COMPLETE): AppointmentStatus.COMPLETED,
    (AppointmentStatus.IN_PROGRESS, AppointmentAction.COMPLETE): AppointmentStatus.COMPLETED,
    **{(s, AppointmentAction.CHECK_IN): AppointmentStatus.CHECKED_IN for s in UPCOMING},
    **{(s, AppointmentAction.CANCEL): AppointmentStatus.CANCELLED for s in UPCOMING},
    **{(s, AppointmentAction.NO_SHOW): AppointmentStatus.NO_SHOW for s in UPCOMING},
    **{(s, AppointmentAction.RESCHEDULE): AppointmentStatus.RESCHEDULED for s in UPCOMING},
}

#: The timestamp column stamped when an appointment enters each status.
STATUS_TIMESTAMP = {
    AppointmentStatus.CONFIRMED: "confirmed_at",
    AppointmentStatus.CHECKED_IN: "checked_in_at",
    AppointmentStatus.IN_PROGRESS: "started_at",
    AppointmentStatus.COMPLETED: "completed_at",
    AppointmentStatus.CANCELLED: "cancelled_at",
    AppointmentStatus.NO_SHOW: "no_show_at",
    AppointmentStatus.RESCHEDULED: "cancelled_at",
}

#: Leaving the doctor's time free for someone else (the waitlist is offered the slot).
FREES_SLOT = frozenset(
    {AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW, AppointmentStatus.RESCHEDULED}
)


class IllegalAppointmentMove(Conflict):
    """The action is not legal from the appointment's current status."""

    code = "invalid_transition"
    title = "Illegal appointment transition"


def transition(status: AppointmentStatus, action: AppointmentAction) -> AppointmentStatus:
    """The status after ``action``; :class:`IllegalAppointmentMove` (409) when not allowed."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise IllegalAppointmentMove(
            f"cannot {action.value} an appointment that is {status.value}",
            current_status=status.value,
            allowed_actions=allowed_actions(status),
        ) from None


def allowed_actions(status: AppointmentStatus) -> list[str]:
    """The actions legal from ``status``, for clients to offer."""
    return [action.value for (s, action) in TRANSITIONS if s is status]
