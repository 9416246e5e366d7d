"""Appointments: booking (idempotent), the lifecycle actions, queue position and the waitlist."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from care import appointments, portal, waitlist
from care.lifecycle import AppointmentAction
from care.schemas import (
    AppointmentCreate,
    AppointmentView,
    CancelBody,
    RescheduleBody,
    WaitlistCreate,
)
from console_api.care_deps import RequesterDep
from console_api.deps import SessionDep
from console_api.params import IfMatchHeader, expected_version

router = APIRouter(prefix="/api/v1/appointments", tags=["care: appointments"])

IdempotencyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key",
           description="The same key and body within 24 h return the same appointment."),
]


def _respond(response: Response, appointment) -> dict[str, Any]:
    response.headers["ETag"] = f'"{appointment.version}"'
    return appointments.appointment_view(appointment)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Book a slot")
async def book(body: AppointmentCreate, response: Response, db_session: SessionDep,
               requester: RequesterDep, idempotency_key: IdempotencyHeader = None
               ) -> dict[str, Any]:
    """409 ``slot_taken`` when someone else holds the slot; a replay returns the first booking."""
    booked = await appointments.book(db_session=db_session, requester=requester, body=body,
                                     idempotency_key=idempotency_key)
    if booked.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"{router.prefix}/{booked.appointment.id}"
    return _respond(response, booked.appointment)


@router.get("/mine", summary="My appointments, newest first")
async def mine(db_session: SessionDep, requester: RequesterDep) -> list[dict[str, Any]]:
    """Empty for a caller without a patient profile."""
    rows = await appointments.list_mine(db_session=db_session, requester=requester)
    return [appointments.appointment_view(a) for a in rows]


@router.get("/day", summary="A day's appointments: a hospital's (desk) or my agenda (doctor)")
async def day(
    db_session: SessionDep,
    requester: RequesterDep,
    on: Annotated[date, Query(alias="date", description="local date, YYYY-MM-DD")],
    hospital_id: uuid.UUID | None = None,
    doctor_id: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """With ``hospital_id``: that hospital's admins; without: the signed-in doctor's own.
    Each row names the patient (``patient_name``), as an agenda must."""
    rows = await appointments.day_list(db_session=db_session, requester=requester, day=on,
                                       hospital_id=hospital_id, doctor_id=doctor_id)
    names = await portal.patient_names(db_session, (a.patient_id for a in rows))
    return [{**appointments.appointment_view(a), "patient_name": names.get(str(a.patient_id))}
            for a in rows]


@router.post("/waitlist", status_code=status.HTTP_201_CREATED, summary="Join a doctor's waitlist")
async def join_waitlist(body: WaitlistCreate, response: Response, db_session: SessionDep,
                        requester: RequesterDep, idempotency_key: IdempotencyHeader = None
                        ) -> dict[str, Any]:
    """A freed slot inside the window is offered to the longest-waiting patient; a replay of
    the same key and body returns the first entry."""
    entry, replayed = await waitlist.join(db_session=db_session, requester=requester, body=body,
                                          idempotency_key=idempotency_key)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return waitlist.entry_view(entry)


@router.get("/waitlist", summary="My waitlist entries and offers")
async def my_waitlist(db_session: SessionDep, requester: RequesterDep) -> list[dict[str, Any]]:
    """Offers show the slot to accept."""
    return [waitlist.entry_view(e)
            for e in await waitlist.mine(db_session=db_session, requester=requester)]


@router.post("/waitlist/{entry_id}/accept", status_code=status.HTTP_201_CREATED,
             summary="Take the offered slot")
async def accept_offer(entry_id: uuid.UUID, response: Response, db_session: SessionDep,
                       requester: RequesterDep) -> dict[str, Any]:
    """409 when the slot went meanwhile (the entry waits again)."""
    appointment = await appointments.accept_offer(db_session=db_session, requester=requester,
                                                  entry_id=entry_id)
    return _respond(response, appointment)


@router.get("/{appointment_id}", summary="One appointment")
async def read(appointment_id: uuid.UUID, response: Response, db_session: SessionDep,
               requester: RequesterDep) -> dict[str, Any]:
    """The patient, the doctor or the hospital's desk."""
    appointment = await appointments.read(db_session=db_session, requester=requester,
                                          appointment_id=appointment_id)
    return _respond(response, appointment)


@router.get("/{appointment_id}/queue", summary="Queue position on the day")
async def queue(appointment_id: uuid.UUID, db_session: SessionDep, requester: RequesterDep
                ) -> dict[str, Any]:
    """Position among the doctor's checked-in patients today."""
    return await appointments.queue_position(db_session=db_session, requester=requester,
                                             appointment_id=appointment_id)


async def _act(action: AppointmentAction, appointment_id: uuid.UUID, response: Response,
               db_session: SessionDep, requester: RequesterDep, if_match: str | None,
               reason: str | None = None) -> dict[str, Any]:
    appointment = await appointments.act(
        db_session=db_session, requester=requester, appointment_id=appointment_id,
        action=action, reason=reason, expected_version=expected_version(if_match),
    )
    return _respond(response, appointment)


@router.post("/{appointment_id}/confirm", summary="Confirm")
async def confirm(appointment_id: uuid.UUID, response: Response, db_session: SessionDep,
                  requester: RequesterDep, if_match: IfMatchHeader = None) -> dict[str, Any]:
    """Legal from booked."""
    return await _act(AppointmentAction.CONFIRM, appointment_id, response, db_session,
                      requester, if_match)


@router.post("/{appointment_id}/cancel", summary="Cancel")
async def cancel(appointment_id: uuid.UUID, response: Response, db_session: SessionDep,
                 requester: RequesterDep, body: CancelBody | None = None,
                 if_match: IfMatchHeader = None) -> dict[str, Any]:
    """Legal from booked or confirmed; the slot is offered to the waitlist."""
    return await _act(AppointmentAction.CANCEL, appointment_id, response, db_session,
                      requester, if_match, body.reason if body else None)


@router.post("/{appointment_id}/check-in", summary="Check the patient in")
async def check_in(appointment_id: uuid.UUID, response: Response, db_session: SessionDep,
                   requester: RequesterDep, if_match: IfMatchHeader = None) -> dict[str, Any]:
    """The desk or the doctor; the patient joins the day's queue."""
    return await _act(AppointmentAction.CHECK_IN, appointment_id, response, db_session,
                      requester, if_match)


@router.post("/{appointment_id}/no-show", summary="Record a no-show")
async def no_show(appointment_id: uuid.UUID, response: Response, db_session: SessionDep,
                  requester: RequesterDep, if_match: IfMatchHeader = None) -> dict[str, Any]:
    """Only after the start time."""
    return await _act(AppointmentAction.NO_SHOW, appointment_id, response, db_session,
                      requester, if_match)


@router.post("/{appointment_id}/start", response_model=AppointmentView,
             summary="Start the visit")
async def start(appointment_id: uuid.UUID, response: Response, db_session: SessionDep,
                requester: RequesterDep, if_match: IfMatchHeader = None) -> dict[str, Any]:
    """Legal from checked in; the patient leaves the waiting queue, the others move up."""
    return await _act(AppointmentAction.START, appointment_id, response, db_session,
                      requester, if_match)


@router.post("/{appointment_id}/complete", summary="Complete the visit")
async def complete(appointment_id: uuid.UUID, response: Response, db_session: SessionDep,
                   requester: RequesterDep, if_match: IfMatchHeader = None) -> dict[str, Any]:
    """Legal from checked in or in progress."""
    return await _act(AppointmentAction.COMPLETE, appointment_id, response, db_session,
                      requester, if_match)


@router.post("/{appointment_id}/reschedule", status_code=status.HTTP_201_CREATED,
             summary="Move to another slot")
async def reschedule(appointment_id: uuid.UUID, body: RescheduleBody, response: Response,
                     db_session: SessionDep, requester: RequesterDep,
                     if_match: IfMatchHeader = None) -> dict[str, Any]:
    """Returns the new appointment; the old one becomes ``rescheduled``."""
    appointment = await appointments.reschedule(
        db_session=db_session, requester=requester, appointment_id=appointment_id,
        start=body.start, hospital_id=body.hospital_id,
        expected_version=expected_version(if_match),
    )
    return _respond(response, appointment)
