"""Sign-in, token rotation and user provisioning."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from facilities.models import Hospital
from identity.models import RefreshToken, Role, User, UserRole
from identity.passwords import hash_password, verify_password
from identity.roles import Role as RoleName
from identity.settings import IdentitySettings
from identity.tokens import hash_token, issue_access_token, new_refresh_token

MIN_PASSWORD_LENGTH = 12


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
) -> User:
    """Provision a user with roles; a hospital admin must name their hospital."""
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput("not an email address", field="email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
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
    db_session: AsyncSession, user: User, settings: IdentitySettings, family_id: uuid.UUID
) -> TokenPair:
    refresh = new_refresh_token()
    db_session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_token(refresh),
            expires_at=utcnow() + timedelta(days=settings.refresh_token_days),
        )
    )
    access = issue_access_token(
        user_id=user.id, roles=user.role_names, hospital_id=user.hospital_id, settings=settings
    )
    return TokenPair(access_token=access, refresh_token=refresh)


async def login(
    *, db_session: AsyncSession, email: str, password: str, settings: IdentitySettings
) -> TokenPair:
    """Exchange credentials for a token pair; the error never says which part was wrong."""
    user = await db_session.scalar(select(User).where(User.email == email.strip().lower()))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthenticated("wrong email or password", code="invalid_credentials")
    if user.status != "active":
        raise Unauthenticated("this account is not active", code="account_inactive")
    pair = await _issue(db_session, user, settings, family_id=uuid.uuid4())
    await db_session.commit()
    return pair


async def refresh(
    *, db_session: AsyncSession, refresh_token: str, settings: IdentitySettings
) -> TokenPair:
    """Rotate a refresh token. Presenting a spent one revokes its whole family (theft signal)."""
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
        raise Unauthenticated(
            "refresh token was already used; the session has been revoked",
            code="refresh_token_reused",
        )
    stored.used_at = now
    user = await get_user(db_session=db_session, user_id=stored.user_id)
    if user.status != "active":
        raise Unauthenticated("this account is not active", code="account_inactive")
    pair = await _issue(db_session, user, settings, family_id=stored.family_id)
    await db_session.commit()
    return pair


async def _revoke_family(db_session: AsyncSession, family_id: uuid.UUID) -> None:
    await db_session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def logout(*, db_session: AsyncSession, refresh_token: str) -> None:
    """Revoke the session the refresh token belongs to; unknown tokens are ignored."""
    stored = await db_session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
    )
    if stored is not None:
        await _revoke_family(db_session, stored.family_id)
    await db_session.commit()
