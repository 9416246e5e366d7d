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
    "case.read": frozenset(
        {Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN, Role.HOSPITAL_ADMIN, Role.DOCTOR}
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
    "case.acknowledge": frozenset({Role.HOSPITAL_ADMIN}),
    "case.redirect": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "metrics.read": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "sms.read": frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN}),
    "user.create": frozenset({Role.SUPER_ADMIN}),
}


def allowed(roles: set[str], action: str) -> bool:
    """Whether any of ``roles`` may perform ``action``; unknown actions are denied."""
    return any(role in PERMISSIONS.get(action, frozenset()) for role in roles)
