"""TOTP second factor (RFC 6238 via pyotp) and one-time recovery codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import pyotp
from sqlalchemy import Connection, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import Conflict, InvalidInput
from identity import vault
from identity.models import RecoveryCode, User

RECOVERY_CODES = 10
ISSUER = "Lifeline"


def _aad(user: User) -> bytes:
    return f"users.totp_secret:{user.id}".encode()


#: TOTP secrets are sealed straight under the KEK (16-byte marker where a data-key id would be).
_KEK_MARKER = b"totp-secret-kek\0"


def _seal_secret(user: User, secret: str) -> bytes:
    ring = vault.keyring()
    return ring.active_id.encode().ljust(32, b"\0") + vault.seal(
        secret, data_key=ring.keys[ring.active_id], key_id=_KEK_MARKER, aad=_aad(user)
    )


def rotate_secrets(conn: Connection) -> int:
    """Re-seal TOTP secrets not under the active KEK (part of ``lifeline keys rotate``)."""
    ring = vault.keyring()
    active = ring.active_id.encode().ljust(32, b"\0")
    done = 0
    rows = conn.execute(
        select(User.id, User.totp_secret_sealed).where(User.totp_secret_sealed.is_not(None))
    ).all()
    for row in rows:
        blob = bytes(row.totp_secret_sealed)
        if blob[:32] == active:
            continue
        holder = User(id=row.id)
        holder.totp_secret_sealed = blob
        secret = totp_secret(holder)
        conn.execute(
            update(User).where(User.id == row.id).values(
                totp_secret_sealed=_seal_secret(holder, secret)
            )
        )
        done += 1
    conn.commit()
    return done


def totp_secret(user: User) -> str | None:
    """The user's TOTP secret, decrypted."""
    if user.totp_secret_sealed is None:
        return None
    blob = bytes(user.totp_secret_sealed)
    kek_id = blob[:32].rstrip(b"\0").decode()
    ring = vault.keyring()
    if kek_id not in ring.keys:
        raise vault.VaultError(f"KEK {kek_id!r} is not in the keyring")
    return vault.open_sealed(blob[32:], data_key=ring.keys[kek_id], aad=_aad(user))


def valid_base32(secret: str) -> str:
    """Normalise and check a provisioning secret (at least 160 bits, RFC 4226)."""
    cleaned = secret.replace(" ", "").upper().rstrip("=")
    try:
        raw = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except ValueError:
        raise InvalidInput("the TOTP secret is not base32", field="totp_secret") from None
    if len(raw) < 20:
        raise InvalidInput(
            "the TOTP secret needs at least 32 base32 characters", field="totp_secret"
        )
    return cleaned


def hash_code(code: str) -> str:
    """Recovery codes are random, so a plain SHA-256 is enough (like refresh tokens)."""
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


async def start_enrolment(
    *, db_session: AsyncSession, user: User, secret: str | None = None, activate: bool = False
) -> tuple[str, list[str]]:
    """Give the user a new secret and recovery codes; active at once only when provisioned."""
    if user.totp_enabled_at is not None and not activate:
        raise Conflict("a second factor is already active", code="mfa_already_enrolled")
    secret = valid_base32(secret) if secret else pyotp.random_base32(length=32)
    user.totp_secret_sealed = _seal_secret(user, secret)
    user.totp_last_step = None
    user.totp_enabled_at = utcnow() if activate else None
    existing = await db_session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id))
    for row in existing:
        await db_session.delete(row)
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    db_session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_code(c)) for c in codes)
    return secret, codes


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email or str(user.id), issuer_name=ISSUER)


def verify_totp(user: User, code: str) -> bool:
    """Accept the current code (±1 step of clock drift); a code is never accepted twice."""
    secret = totp_secret(user)
    # ASCII digits only: str.isdigit() also accepts other scripts' digits ("١٢٣٤٥٦"), which
    # hmac.compare_digest refuses with a TypeError.
    if secret is None or not (code.isascii() and code.isdigit()) or len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    now_step = int(utcnow().timestamp()) // totp.interval
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.at(step * totp.interval), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # replay of a code already used
            user.totp_last_step = step
            return True
    return False


async def use_recovery_code(*, db_session: AsyncSession, user: User, code: str) -> bool:
    """Spend one recovery code."""
    row = await db_session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == hash_code(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = utcnow()
    return True
