"""What the patient profile, chart, access-log and emergency-summary routes answer."""

from __future__ import annotations

from typing import Any

from console_api.responses import Answer


class ProfileView(Answer):
    """The patient's own profile (the encrypted national id never leaves)."""

    id: str
    full_name: str
    dob: str | None
    gender: str | None
    blood_group: str | None
    address: str | None
    city: str | None
    province: str | None
    phone: str | None
    created_at: str | None


class ContactView(Answer):
    """An emergency contact (E.164 phone)."""

    id: str
    name: str
    relationship: str | None
    phone: str


class AllergyView(Answer):
    """An allergy, shown to the crew in an emergency."""

    id: str
    substance: str
    reaction: str | None
    severity: str | None


class ConditionView(Answer):
    """A condition; active ones are shown to the crew in an emergency."""

    id: str
    name: str
    code: str | None
    clinical_status: str


class RecordView(Answer):
    """A medical record: visit, lab, prescription or discharge, with its JSON payload."""

    id: str
    patient_id: str
    doctor_id: str | None
    record_type: str
    payload: dict[str, Any]
    created_at: str | None


class ChartPatient(Answer):
    """Who the chart is of."""

    full_name: str
    dob: str | None
    gender: str | None
    blood_group: str | None


class ChartAccess(Answer):
    """On what basis the chart was opened (``flagged``: break-glass)."""

    basis: str
    flagged: bool


class Chart(Answer):
    """A patient's chart: records newest first, allergies, conditions and contacts."""

    patient_id: str
    patient: ChartPatient
    access: ChartAccess
    records: list[RecordView]
    allergies: list[AllergyView]
    conditions: list[ConditionView]
    emergency_contacts: list[ContactView]


class AccessLogEntry(Answer):
    """One read of a patient's data by someone else, and its basis."""

    at: str | None
    actor: str
    kind: str
    basis: str
    reason: str | None
    flagged: bool
    case_id: str | None


class SummaryAllergy(Answer):
    substance: str
    reaction: str | None
    severity: str | None


class SummaryCondition(Answer):
    name: str
    code: str | None


class SummaryContact(Answer):
    name: str
    relationship: str | None
    phone: str


class EmergencySummary(Answer):
    """What the dispatch room, the receiving hospital and the crew see of an SOS patient."""

    case_id: str
    patient_id: str
    raised_by_patient: bool
    full_name: str
    dob: str | None
    blood_group: str | None
    allergies: list[SummaryAllergy]
    conditions: list[SummaryCondition]
    emergency_contacts: list[SummaryContact]
