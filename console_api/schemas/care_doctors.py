"""What the doctor, department, schedule and presence routes answer when the domain writes a
dict."""

from __future__ import annotations

from console_api.responses import Answer


class Slot(Answer):
    """A free slot of a doctor at a hospital."""

    start: str
    end: str
    hospital_id: str


class ScheduleLine(Answer):
    """One weekly schedule line (weekday 0 = Monday; local wall-clock times)."""

    id: str
    doctor_id: str
    hospital_id: str
    weekday: int
    start_time: str
    end_time: str
    slot_minutes: int


class MyAffiliation(Answer):
    """A hospital's affiliation of the signed-in doctor (``accepted_at``: null until accepted)."""

    hospital_id: str
    hospital_name: str
    department_id: str
    department: str
    is_primary: bool
    accepted_at: str | None


class MyDoctorProfile(Answer):
    """The doctor portal's one read: profile, live state, affiliations, weekly schedule."""

    id: str
    full_name: str
    specialty: str
    license_no: str
    is_verified: bool
    languages: list[str]
    availability: str
    affiliations: list[MyAffiliation]
    schedules: list[ScheduleLine]


class RosterDoctor(Answer):
    """A doctor attached to a hospital, their live state and their weekly schedule there."""

    doctor_id: str
    full_name: str
    specialty: str
    is_verified: bool
    department_id: str
    department: str
    is_primary: bool
    accepted_at: str | None
    availability: str
    schedules: list[ScheduleLine]


class AvailabilitySet(Answer):
    """The state a doctor announced and how long it lives without a heartbeat."""

    doctor_id: str
    state: str
    ttl_seconds: int


class HeartbeatAnswer(Answer):
    """The doctor's live state after a heartbeat (``expired``: it had lapsed to offline)."""

    doctor_id: str
    state: str
    expired: bool


class DepartmentView(Answer):
    """A department of a hospital."""

    id: str
    hospital_id: str
    name: str


class DoctorAttached(Answer):
    """A doctor attached to a hospital's department (``accepted``: the doctor has accepted)."""

    doctor_id: str
    hospital_id: str
    department_id: str
    is_primary: bool
    accepted: bool


class AffiliationAccepted(Answer):
    """The departments of a hospital whose affiliation the doctor has accepted."""

    hospital_id: str
    department_ids: list[str]
    accepted_at: str | None


class DashboardMetrics(Answer):
    """A hospital's day: appointments by status, no-shows, open emergency cases, ED status."""

    hospital_id: str
    date: str
    appointments_today: int
    appointments_by_status: dict[str, int]
    no_shows_today: int
    open_emergency_cases: int
    ed_status: str
    beds_available: int | None
    capacity_updated_at: str | None
