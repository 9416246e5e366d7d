"""Object-level rules for clinical data, pure so the permission matrix (issue 7) can plug them in.

Role checks say *what kind* of caller may act; these say *which patient's* data they may see.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from data.errors import Forbidden, InvalidInput
from identity.authz import MIN_BREAK_GLASS_WORDS, meaningful_reason

PATIENT = "patient"
DOCTOR = "doctor"
HOSPITAL_ADMIN = "hospital_admin"
OPERATOR = "emergency_operator"
SUPER_ADMIN = "super_admin"


class Basis(StrEnum):
    """Why a read of a patient's data was allowed, as written to the access log."""

    SELF = "self"
    TREATMENT = "treatment"
    BREAK_GLASS = "break_glass"
    EMERGENCY = "emergency"


@dataclass(frozen=True)
class Requester:
    """The caller as the rules see them: roles, hospital and their care identities."""

    user_id: uuid.UUID | None
    roles: frozenset[str]
    hospital_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None

    @property
    def label(self) -> str:
        """The audit-trail name of the caller."""
        role = sorted(self.roles)[0] if self.roles else "user"
        return f"{role}:{self.user_id}"


@dataclass(frozen=True)
class Access:
    """A granted read; ``flagged`` reads (break-glass) are reviewed afterwards."""

    basis: Basis
    reason: str | None = None

    @property
    def flagged(self) -> bool:
        return self.basis is Basis.BREAK_GLASS


def record_access(
    requester: Requester,
    patient_id: uuid.UUID,
    *,
    treats: bool,
    break_glass_reason: str | None = None,
    min_reason: int = 10,
) -> Access:
    """A patient reads their own records; a doctor needs a treatment relationship or break-glass.

    ``treats`` is whether the doctor has a real treatment relationship with the patient
    (:func:`care.records.treats`).
    Anyone else (admins and operators included) is refused: they have no clinical need.
    """
    if requester.patient_id is not None and requester.patient_id == patient_id:
        return Access(Basis.SELF)
    if DOCTOR in requester.roles and requester.doctor_id is not None:
        if treats:
            return Access(Basis.TREATMENT)
        if break_glass_reason is not None:
            reason = break_glass_reason.strip()
            if not meaningful_reason(reason, min_chars=min_reason):
                raise InvalidInput(
                    f"a break-glass reason of at least {min_reason} characters and "
                    f"{MIN_BREAK_GLASS_WORDS} words is required",
                    field="break_glass_reason",
                    code="break_glass_reason_required",
                )
            return Access(Basis.BREAK_GLASS, reason)
        raise Forbidden(
            "you have no appointment or case with this patient; state a break-glass reason "
            "if this is an emergency",
            code="no_treatment_relationship",
        )
    raise Forbidden("you may not read this patient's records", code="not_your_patient")


def may_write_record(requester: Requester, *, treats: bool) -> bool:
    """Only a treating doctor adds to a patient's record."""
    return DOCTOR in requester.roles and requester.doctor_id is not None and treats


def summary_access(
    requester: Requester,
    *,
    destination_hospital_id: uuid.UUID | None,
    doctor_hospitals: frozenset[uuid.UUID] = frozenset(),
) -> Access:
    """The SOS emergency summary: the dispatch room and the receiving hospital's staff."""
    if requester.roles & {OPERATOR, SUPER_ADMIN}:
        return Access(Basis.EMERGENCY)
    if destination_hospital_id is not None:
        if HOSPITAL_ADMIN in requester.roles and requester.hospital_id == destination_hospital_id:
            return Access(Basis.EMERGENCY)
        if DOCTOR in requester.roles and destination_hospital_id in doctor_hospitals:
            return Access(Basis.EMERGENCY)
    raise Forbidden(
        "only the dispatch room and the receiving hospital see this summary",
        code="not_your_case",
    )


def manages_hospital(requester: Requester, hospital_id: uuid.UUID) -> bool:
    """A hospital admin of this very hospital, or a super admin."""
    if SUPER_ADMIN in requester.roles:
        return True
    return HOSPITAL_ADMIN in requester.roles and requester.hospital_id == hospital_id


def require_manager(requester: Requester, hospital_id: uuid.UUID) -> None:
    """:class:`Forbidden` unless the caller manages this hospital."""
    if not manages_hospital(requester, hospital_id):
        raise Forbidden("only this hospital's admin may do this", code="not_your_hospital")


def may_see_hospital_metrics(requester: Requester, hospital_id: uuid.UUID) -> bool:
    """The hospital's admins and the dispatch room."""
    return manages_hospital(requester, hospital_id) or OPERATOR in requester.roles


def appointment_party(
    requester: Requester,
    *,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID,
    hospital_id: uuid.UUID,
) -> str | None:
    """How the caller relates to an appointment: patient, doctor, desk, or None (no access)."""
    if requester.patient_id is not None and requester.patient_id == patient_id:
        return "patient"
    if requester.doctor_id is not None and requester.doctor_id == doctor_id:
        return "doctor"
    if manages_hospital(requester, hospital_id):
        return "desk"
    return None


#: Who may perform each appointment action, by party.
ACTION_PARTIES: dict[str, frozenset[str]] = {
    "confirm": frozenset({"patient", "doctor", "desk"}),
    "cancel": frozenset({"patient", "doctor", "desk"}),
    "reschedule": frozenset({"patient", "desk"}),
    "check_in": frozenset({"doctor", "desk"}),
    "no_show": frozenset({"doctor", "desk"}),
    "start": frozenset({"doctor", "desk"}),
    "complete": frozenset({"doctor", "desk"}),
}


def may_act_on_appointment(party: str | None, action: str) -> bool:
    """Whether this party may perform ``action``."""
    return party is not None and party in ACTION_PARTIES.get(action, frozenset())
