"""Sign-in, token rotation and user provisioning."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from facilities.models import Hospital
from identity import mfa, revocation
from identity.models import Patient, RefreshToken, Role, User, UserRole
from identity.password_policy import MIN_PASSWORD_LENGTH, check_password  # noqa: F401
from identity.passwords import HashingGate, hash_password, hashing_gate
from identity.roles import Role as RoleName
from identity.roles import is_staff
from identity.settings import IdentitySettings
from identity.tokens import hash_token, issue_access_token, new_refresh_token

#: The one answer to every sign-in that is not right in every part (password, account state,
#: second factor): which part failed, or whether the account exists, is never told.
UNIFORM_FAILURE = (
    "wrong email, password or code (staff sign in with a TOTP code; "
    "enrol at /api/v1/auth/mfa/enrol)"
)


def sign_in_refused() -> Unauthenticated:
    """The uniform 401 of a failed sign-in step."""
    return Unauthenticated(UNIFORM_FAILURE, code="invalid_credentials")


@dataclass(frozen=True)
class TokenPair:
    """What a successful login or refresh returns."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"


async def create_user(
    *,
    db_session: AsyncSession,
    email: str,
    password: str,
    roles: list[str],
    hospital_id: uuid.UUID | None = None,
    phone: str | None = None,
    totp_secret: str | None = None,
) -> User:
    """Provision a user with roles; a hospital admin must name their hospital.

    ``totp_secret`` (base32) enrols the second factor at once, for provisioning scripts.
    """
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput("not an email address", field="email")
    check_password(password, user_inputs=[email])
    if totp_secret is not None:
        totp_secret = mfa.valid_base32(totp_secret)
    unknown = set(roles) - {r.value for r in RoleName}
    if unknown or not roles:
        raise InvalidInput(f"unknown or missing roles: {sorted(unknown)}", field="role")
    if RoleName.HOSPITAL_ADMIN in roles:
        if hospital_id is None:
            raise InvalidInput("a hospital admin needs --hospital-id", field="hospital_id")
        if await db_session.get(Hospital, hospital_id) is None:
            raise InvalidInput("no hospital with this id", field="hospital_id")
    if await db_session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email} exists", code="user_exists")
    user = User(
        email=email, phone=phone, password_hash=hash_password(password), hospital_id=hospital_id
    )
    db_session.add(user)
    await db_session.flush()
    if totp_secret is not None:
        await mfa.start_enrolment(
            db_session=db_session, user=user, secret=totp_secret, activate=True
        )
    role_rows = (await db_session.execute(select(Role).where(Role.name.in_(roles)))).scalars()
    for role in role_rows:
        db_session.add(UserRole(user_id=user.id, role_id=role.id))
    await db_session.commit()
    await db_session.refresh(user, ["roles"])
    return user


async def get_user(*, db_session: AsyncSession, user_id: uuid.UUID) -> User:
    """Load a user or raise :class:`NotFound`."""
    user = await db_session.get(User, user_id)
    if user is None:
        raise NotFound("no such user", code="user_not_found")
    return user


async def _issue(
    db_session: AsyncSession,
    user: User,
    settings: IdentitySettings,
    family_id: uuid.UUID,
    *,
    mfa_passed: bool,
) -> TokenPair:
    refresh = new_refresh_token()
    db_session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_token(refresh),
            expires_at=utcnow() + timedelta(days=settings.refresh_token_days),
            mfa=mfa_passed,
        )
    )
    access = issue_access_token(
        user_id=user.id,
        roles=user.role_names,
        hospital_id=user.hospital_id,
        settings=settings,
        mfa=mfa_passed,
        session_id=family_id,
    )
    return TokenPair(access_token=access, refresh_token=refresh)


async def _failed(db_session: AsyncSession, user: User | None) -> Unauthenticated:
    """Count a failure on the account (shown to nobody; the throttles live at the HTTP edge)."""
    if user is not None:
        user.failed_logins = (user.failed_logins or 0) + 1
        await db_session.commit()
    return sign_in_refused()


async def _checked_user(
    db_session: AsyncSession, email: str, password: str, gate: HashingGate
) -> User:
    """The account whose password this is, checked off the event loop; else the uniform 401."""
    user = await find_login_user(db_session=db_session, email=email)
    if not await gate.verify(user.password_hash if user else None, password) or user is None:
        raise await _failed(db_session, user)
    return user


async def find_login_user(*, db_session: AsyncSession, email: str) -> User | None:
    """The account an email signs in to, if any."""
    return await db_session.scalar(select(User).where(User.email == email.strip().lower()))


async def login(
    *,
    db_session: AsyncSession,
    email: str,
    password: str,
    settings: IdentitySettings,
    totp: str | None = None,
    recovery_code: str | None = None,
) -> TokenPair:
    """Exchange credentials (and, for staff or enrolled users, a TOTP code) for a token pair.

    Every failure is the same 401 (:func:`sign_in_refused`) until every factor is right: a
    correct password is not told apart from a wrong one, nor an inactive or unenrolled account.
    """
    user = await _checked_user(db_session, email, password, gate_of(settings))
    enrolled = user.totp_enabled_at is not None
    if user.status != "active" or (is_staff(user.role_names) and not enrolled):
        raise await _failed(db_session, user)
    if enrolled:
        if totp:
            passed = mfa.verify_totp(user, totp)
        elif recovery_code:
            passed = await mfa.use_recovery_code(
                db_session=db_session, user=user, code=recovery_code
            )
        else:
            passed = False
        if not passed:
            raise await _failed(db_session, user)
    user.failed_logins = 0
    user.locked_until = None
    pair = await _issue(
        db_session, user, settings, family_id=uuid.uuid4(), mfa_passed=enrolled
    )
    await db_session.commit()
    return pair


def gate_of(settings: IdentitySettings) -> HashingGate:
    """The worker's password-check gate, sized by ``settings``."""
    return hashing_gate(
        running=settings.password_hash_threads, waiting=settings.password_hash_queue
    )


async def enrol_mfa(
    *, db_session: AsyncSession, email: str, password: str, settings: IdentitySettings
) -> tuple[User, str, list[str]]:
    """Start TOTP enrolment after checking the password; active only once a code is confirmed."""
    user = await _checked_user(db_session, email, password, gate_of(settings))
    if user.status != "active" or user.totp_enabled_at is not None:
        # A stolen password cannot re-enrol the second factor, nor learn that it was right.
        raise await _failed(db_session, user)
    secret, codes = await mfa.start_enrolment(db_session=db_session, user=user)
    await db_session.commit()
    return user, secret, codes


async def activate_mfa(
    *, db_session: AsyncSession, email: str, password: str, totp: str, settings: IdentitySettings
) -> None:
    """Confirm enrolment with the first code from the authenticator."""
    user = await _checked_user(db_session, email, password, gate_of(settings))
    already = user.totp_enabled_at is not None
    if user.status != "active" or already or not mfa.verify_totp(user, totp):
        raise await _failed(db_session, user)
    user.totp_enabled_at = utcnow()
    await db_session.commit()


async def refresh(
    *,
    db_session: AsyncSession,
    refresh_token: str,
    settings: IdentitySettings,
    redis: Redis | None = None,
) -> TokenPair:
    """Rotate a refresh token. Presenting a spent one revokes its whole family (theft signal).

    The new access token carries the second factor only if the session began with one: a
    staff session without it gets no token (staff roles granted after a password-only sign-in
    do not ride on that session). ``redis``: where the revoked session is announced.
    """
    now = utcnow()
    stored = await db_session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == hash_token(refresh_token))
        .with_for_update()
    )
    if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
        raise Unauthenticated("refresh token is not valid", code="invalid_refresh_token")
    if stored.used_at is not None:
        await _revoke_family(db_session, stored.family_id)
        await db_session.commit()
        if redis is not None:
            await revocation.revoke_session(redis, stored.family_id)
        raise Unauthenticated(
            "refresh token was already used; the session has been revoked",
            code="refresh_token_reused",
        )
    stored.used_at = now
    user = await get_user(db_session=db_session, user_id=stored.user_id)
    if user.status != "active":
        raise Unauthenticated("this account is not active", code="account_inactive")
    if is_staff(user.role_names) and not stored.mfa:
        await _revoke_family(db_session, stored.family_id)
        await db_session.commit()
        raise Unauthenticated(
            "staff sessions need a second factor: sign in again with your code",
            code="mfa_required",
        )
    pair = await _issue(
        db_session, user, settings, family_id=stored.family_id, mfa_passed=stored.mfa
    )
    await db_session.commit()
    return pair


async def _revoke_family(db_session: AsyncSession, family_id: uuid.UUID) -> None:
    await db_session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def logout(
    *, db_session: AsyncSession, refresh_token: str, redis: Redis | None = None
) -> None:
    """Revoke the session the refresh token belongs to (its access tokens and sockets too, via
    ``redis``); unknown tokens are ignored."""
    stored = await db_session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
    )
    if stored is not None:
        await _revoke_family(db_session, stored.family_id)
    await db_session.commit()
    if stored is not None and redis is not None:
        await revocation.revoke_session(redis, stored.family_id)


async def patient_user_id(
    *, db_session: AsyncSession, patient_id: uuid.UUID | None
) -> uuid.UUID | None:
    """The account that owns a patient record (for "a patient sees only their own")."""
    if patient_id is None:
        return None
    return await db_session.scalar(select(Patient.user_id).where(Patient.id == patient_id))


async def patient_by_national_id(*, db_session: AsyncSession, national_id: str) -> Patient | None:
    """Exact-match lookup through the keyed hash; no row is decrypted to find it."""
    from identity.sealing import lookup_hash

    digest = lookup_hash(Patient, "national_id", national_id)
    return await db_session.scalar(select(Patient).where(Patient.national_id_hmac == digest))
