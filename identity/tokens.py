"""JWT access tokens with a fixed algorithm and every registered claim checked (RFC 8725)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from data.base import utcnow
from data.errors import Unauthenticated
from identity.settings import IdentitySettings

ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says about its bearer."""

    user_id: uuid.UUID
    roles: frozenset[str]
    hospital_id: uuid.UUID | None
    mfa: bool = False
    #: The signed-in session (refresh-token family) it was minted for; logout revokes it.
    session_id: uuid.UUID | None = None
    #: Unix seconds (fractional): a user revocation kills tokens issued up to its instant.
    issued_at: float = 0.0
    expires_at: float = 0.0


def issue_access_token(
    *,
    user_id: uuid.UUID,
    roles: set[str],
    hospital_id: uuid.UUID | None,
    settings: IdentitySettings,
    mfa: bool = False,
    session_id: uuid.UUID | None = None,
) -> str:
    """A short-lived bearer token."""
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "roles": sorted(roles),
        "hid": str(hospital_id) if hospital_id else None,
        "sid": str(session_id) if session_id else None,
        # Fractional, so a revocation in the same second as a fresh sign-in spares the new token.
        "iat": now.timestamp(),
        "nbf": now,
        "exp": now + timedelta(minutes=settings.access_token_minutes),
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "amr": ["pwd", "otp"] if mfa else ["pwd"],
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def verify_access_token(token: str, *, settings: IdentitySettings) -> AccessClaims:
    """Decode and check a token; any defect is :class:`Unauthenticated`."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            options={"require": ["exp", "iat", "nbf", "sub", "aud", "iss", "jti"]},
        )
        if claims.get("typ") != "access":
            raise jwt.InvalidTokenError("not an access token")
        amr = claims.get("amr") or []
        if not isinstance(amr, list):
            raise jwt.InvalidTokenError("amr must be a list")
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            roles=frozenset(claims.get("roles") or ()),
            hospital_id=uuid.UUID(claims["hid"]) if claims.get("hid") else None,
            mfa="otp" in amr,
            session_id=uuid.UUID(claims["sid"]) if claims.get("sid") else None,
            issued_at=float(claims["iat"]),
            expires_at=float(claims["exp"]),
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        # Generic text: the reason a token failed helps an attacker more than a client.
        raise Unauthenticated("the access token is not valid", code="invalid_token") from exc


def new_refresh_token() -> str:
    """An opaque, unguessable refresh token (only its hash is stored)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 of a high-entropy token; enough since the token itself is random."""
    return hashlib.sha256(token.encode()).hexdigest()
