"""Object-level rules: which case a caller may see beyond what their role allows in general."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from identity.roles import BREAK_GLASS_ROLES, Role

if TYPE_CHECKING:
    from identity.tokens import AccessClaims

MIN_BREAK_GLASS_REASON = 10
#: A break-glass reason must say something: this many words of two or more letters.
MIN_BREAK_GLASS_WORDS = 3
_WORD = re.compile(r"[^\W\d_]{2,}")


def meaningful_reason(reason: str | None, *, min_chars: int = MIN_BREAK_GLASS_REASON) -> bool:
    """At least ``min_chars`` characters and three distinct words ("aaaaaaaaaa" or "x x x x x x"
    is not a reason). Checked for every break-glass read, case or chart."""
    text = (reason or "").strip()
    words = {w.lower() for w in _WORD.findall(text)}
    return len(text) >= min_chars and len(words) >= MIN_BREAK_GLASS_WORDS


class Grant(StrEnum):
    """How a read was allowed (or not)."""

    ROLE = "role"
    OWN = "own"
    HOSPITAL = "hospital"
    BREAK_GLASS = "break_glass"
    DENIED = "denied"


@dataclass(frozen=True)
class CaseFacts:
    """What the rules need to know about a case."""

    created_by: uuid.UUID | None
    patient_user_id: uuid.UUID | None
    #: Spelt as the reader's hospital is: UUIDs over HTTP, their strings in live events.
    destination_hospital_id: uuid.UUID | str | None


#: The receiving hospital's staff: its admin (bed manager) and its doctors, who take the
#: pre-alert of an inbound patient as an ED physician does in a real dispatch centre.
HOSPITAL_STAFF = frozenset({Role.HOSPITAL_ADMIN, Role.DOCTOR})
#: Roles that see every case, whatever it is bound to.
EVERY_CASE = frozenset({Role.EMERGENCY_OPERATOR, Role.SUPER_ADMIN})


def case_read_grant(
    *,
    roles: frozenset[str],
    user_id: uuid.UUID | None,
    hospital_id: uuid.UUID | str | None,
    case: CaseFacts,
    break_glass_reason: str | None = None,
) -> Grant:
    """Who may read a case, the one rule for HTTP reads and live events alike.

    Operators and super admins see every case; hospital staff (admin or doctor) only cases
    bound to their hospital; a patient only their own. Operators and doctors may break glass
    with a reason. ``user_id`` is None where the reader is an audience, not a person (the
    live fan-out): then no case is anyone's own.
    """
    if roles & EVERY_CASE:
        return Grant.ROLE
    if roles & HOSPITAL_STAFF and hospital_id is not None and (
        case.destination_hospital_id == hospital_id
    ):
        return Grant.HOSPITAL
    if Role.PATIENT in roles and user_id is not None and (
        user_id in {case.created_by, case.patient_user_id}
    ):
        return Grant.OWN
    if meaningful_reason(break_glass_reason) and roles & BREAK_GLASS_ROLES:
        return Grant.BREAK_GLASS
    return Grant.DENIED


def manages_hospital(claims: AccessClaims, hospital_id: uuid.UUID) -> bool:
    """A super admin manages every hospital; a hospital admin only their own."""
    if Role.SUPER_ADMIN in claims.roles:
        return True
    return Role.HOSPITAL_ADMIN in claims.roles and claims.hospital_id == hospital_id


def list_scope(roles: frozenset[str], hospital_id: uuid.UUID | None) -> uuid.UUID | None | bool:
    """``None``: every case; a hospital id: only cases bound there; ``False``: nothing."""
    if Role.EMERGENCY_OPERATOR in roles or Role.SUPER_ADMIN in roles:
        return None
    if Role.HOSPITAL_ADMIN in roles and hospital_id is not None:
        return hospital_id
    return False
