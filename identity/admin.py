"""Taking authority away: suspend, delete, remove a role — effective at once, tokens included."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import InvalidInput, NotFound
from identity import revocation
from identity.models import RefreshToken, Role, User, UserRole

STATUSES = ("active", "suspended", "deleted")


async def _user(db_session: AsyncSession, email: str) -> User:
    user = await db_session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound("no user with this email", code="user_not_found")
    return user


async def _end_sessions(db_session: AsyncSession, redis: Redis, user: User) -> None:
    """Revoke every refresh token in the database, then every access token in Redis."""
    await db_session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await db_session.commit()
    await revocation.revoke_user(redis, user.id)


async def set_status(
    *, db_session: AsyncSession, redis: Redis, email: str, status: str
) -> User:
    """Suspend, delete (kept as a tombstone for the audit trail) or reactivate an account."""
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
    user = await _user(db_session, email)
    user.status = status
    await _end_sessions(db_session, redis, user)
    return user


async def remove_role(*, db_session: AsyncSession, redis: Redis, email: str, role: str) -> User:
    """Take one role away; tokens minted with it die, the user signs in again for the rest."""
    user = await _user(db_session, email)
    role_id = await db_session.scalar(select(Role.id).where(Role.name == role))
    if role_id is None or role not in user.role_names:
        raise InvalidInput(f"the user does not hold role {role!r}", field="role")
    await db_session.execute(
        delete(UserRole).where(UserRole.user_id == user.id, UserRole.role_id == role_id)
    )
    await _end_sessions(db_session, redis, user)
    return user
