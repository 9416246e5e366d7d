"""Sign-in, token refresh and logout; the current user."""

from __future__ import annotations

from fastapi import APIRouter, status

from identity import service as identity_service
from identity.schemas import LoginRequest, RefreshRequest, TokenResponse, UserView

from console_api.deps import CurrentClaims, IdentitySettingsDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/login", response_model=TokenResponse, summary="Sign in")
async def login(
    body: LoginRequest, db_session: SessionDep, settings: IdentitySettingsDep
) -> TokenResponse:
    """Exchange email and password for an access token (15 min) and a rotating refresh token."""
    pair = await identity_service.login(
        db_session=db_session, email=body.email, password=body.password, settings=settings
    )
    return TokenResponse(access_token=pair.access_token, refresh_token=pair.refresh_token)


@router.post("/auth/refresh", response_model=TokenResponse, summary="Rotate a refresh token")
async def refresh(
    body: RefreshRequest, db_session: SessionDep, settings: IdentitySettingsDep
) -> TokenResponse:
    """Each refresh token works once; presenting a spent one revokes the whole session."""
    pair = await identity_service.refresh(
        db_session=db_session, refresh_token=body.refresh_token, settings=settings
    )
    return TokenResponse(access_token=pair.access_token, refresh_token=pair.refresh_token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out")
async def logout(body: RefreshRequest, db_session: SessionDep) -> None:
    """Revoke the session of this refresh token."""
    await identity_service.logout(db_session=db_session, refresh_token=body.refresh_token)


@router.get("/users/me", response_model=UserView, summary="The signed-in user")
async def me(claims: CurrentClaims, db_session: SessionDep) -> UserView:
    """Profile and roles of the bearer."""
    user = await identity_service.get_user(db_session=db_session, user_id=claims.user_id)
    return UserView(
        id=user.id,
        email=user.email,
        phone=user.phone,
        roles=sorted(user.role_names),
        hospital_id=user.hospital_id,
        status=user.status,
    )
