"""What the appointment routes answer: an appointment, an agenda row, a queue position, a
waitlist entry."""

from __future__ import annotations

from console_api.responses import Answer


class AppointmentView(Answer):
    """One appointment; ``allowed_actions`` are the lifecycle actions legal from its status.

    Sent with an ``ETag`` of ``version`` for ``If-Match``.
    """

    id: str
    patient_id: str
    doctor_id: str
    hospital_id: str
    start: str
    end: str
    mode: str
    status: str
    reason: str | None
    version: int
    created_at: str
    confirmed_at: str | None
    checked_in_at: str | None
    started_at: str | None
    completed_at: str | None
    cancelled_at: str | None
    no_show_at: str | None
    cancel_reason: str | None
    rescheduled_from_id: str | None
    allowed_actions: list[str]


class AgendaAppointment(AppointmentView):
    """A row of a day's agenda: the appointment and the patient's name."""

    patient_name: str | None


class QueuePosition(Answer):
    """Where the patient stands among the doctor's checked-in patients today (``position``:
    null unless checked in)."""

    appointment_id: str
    status: str
    position: int | None
    waiting_ahead: int | None
    queue_length: int


class WaitlistOffer(Answer):
    """The freed slot offered to a waiting patient."""

    hospital_id: str
    start: str | None
    end: str | None
    offered_at: str | None


class WaitlistEntryView(Answer):
    """A patient waiting for a doctor's slot inside a window (``offer`` while one is held)."""

    id: str
    doctor_id: str
    not_before: str | None
    not_after: str | None
    status: str
    offer: WaitlistOffer | None
    appointment_id: str | None
