"""Roles and the one permission matrix every endpoint consults."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The roles a user may hold."""

    PATIENT = "patient"
    DOCTOR = "doctor"
    HOSPITAL_ADMIN = "hospital_admin"
    EMERGENCY_OPERATOR = "emergency_operator"
    SUPER_ADMIN = "super_admin"


STAFF_ROLES = frozenset(
    {Role.DOCTOR, Role.HOSPITAL_ADMIN, Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}
)

#: action -> roles allowed to perform it.
PERMISSIONS: dict[str, frozenset[Role]] = {
    # Patients, hospital admins and doctors only within the object rules of identity.authz.
    "case.read": frozenset(
        {Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN, Role.HOSPITAL_ADMIN, Role.DOCTOR, Role.PATIENT}
    ),
    "case.list": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN, Role.HOSPITAL_ADMIN}),
    "case.triage": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "case.dispatch": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "case.arrive": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "case.close": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "case.cancel": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "road.close": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "unit.manage": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "unit.read": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN, Role.HOSPITAL_ADMIN}),
    "unit.position": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "coverage.read": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "case.acknowledge": frozenset({Role.HOSPITAL_ADMIN}),
    "case.redirect": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "metrics.read": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "sms.read": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "user.create": frozenset({Role.SUPER_ADMIN}),
    "hospital.capacity": frozenset({Role.HOSPITAL_ADMIN, Role.SUPER_ADMIN}),
    "hospital.incoming": frozenset(
        {Role.HOSPITAL_ADMIN, Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}
    ),
    "audit.read": frozenset({Role.SUPER_ADMIN}),
    "policy.manage": frozenset({Role.SUPER_ADMIN}),
    # Care (issue 8); the object rules (own records, own hospital, treatment) are in care.access.
    "patient.self": frozenset({Role.PATIENT}),
    "patient.access_log": frozenset({Role.PATIENT, Role.SUPER_ADMIN}),
    "doctor.self": frozenset({Role.DOCTOR}),
    "doctor.verify": frozenset({Role.SUPER_ADMIN}),
    "doctor.manage": frozenset({Role.HOSPITAL_ADMIN, Role.SUPER_ADMIN}),
    "hospital.dashboard": frozenset(
        {Role.HOSPITAL_ADMIN, Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}
    ),
    "mfa.manage": frozenset(Role),
}

#: Roles that may open a record outside the object rules by stating a reason (break-glass).
BREAK_GLASS_ROLES = frozenset({Role.EMERGENCY_OPERATOR, Role.DOCTOR})


def is_staff(roles: set[str] | frozenset[str]) -> bool:
    """Staff roles must pass a second factor before any action."""
    return any(role in STAFF_ROLES for role in roles)


def allowed(roles: set[str], action: str) -> bool:
    """Whether any of ``roles`` may perform ``action``; unknown actions are denied."""
    return any(role in PERMISSIONS.get(action, frozenset()) for role in roles)
