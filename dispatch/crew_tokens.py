"""Crew links: an HMAC-signed token bound to one dispatch (case + unit) with a maximum age."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from data.base import utcnow
from data.errors import Forbidden

MAX_AGE = timedelta(hours=12)


@dataclass(frozen=True)
class CrewClaims:
    """What a valid crew token grants: acting on this dispatch only."""

    dispatch_id: uuid.UUID
    case_id: uuid.UUID
    unit_id: uuid.UUID
    expires_at: datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode(), b"crew-token:" + payload, hashlib.sha256).digest()


def issue_crew_token(
    *, dispatch_id: uuid.UUID, case_id: uuid.UUID, unit_id: uuid.UUID, secret: str,
    now: datetime | None = None, max_age: timedelta = MAX_AGE,
) -> str:
    """A compact signed token for the SMS link."""
    expires = (now or utcnow()) + max_age
    payload = json.dumps(
        {
            "d": str(dispatch_id),
            "c": str(case_id),
            "u": str(unit_id),
            "e": int(expires.timestamp()),
        },
        separators=(",", ":"),
    ).encode()
    return f"{_b64(payload)}.{_b64(_sign(payload, secret))}"


def verify_crew_token(token: str, *, secret: str, now: datetime | None = None) -> CrewClaims:
    """Check signature and age; anything wrong is the same 403 (no oracle for forgers)."""
    denied = Forbidden("this crew link is not valid", code="invalid_crew_token")
    try:
        encoded, signature = token.split(".")
        payload = _unb64(encoded)
        if not hmac.compare_digest(_sign(payload, secret), _unb64(signature)):
            raise denied
        data = json.loads(payload)
        claims = CrewClaims(
            dispatch_id=uuid.UUID(data["d"]),
            case_id=uuid.UUID(data["c"]),
            unit_id=uuid.UUID(data["u"]),
            expires_at=datetime.fromtimestamp(int(data["e"]), tz=(now or utcnow()).tzinfo),
        )
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise denied from None
    if (now or utcnow()) >= claims.expires_at:
        raise Forbidden("this crew link has expired", code="crew_token_expired")
    return claims
