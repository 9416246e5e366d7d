"""Sign-in, token refresh and logout; the current user."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from console_api.deps import CurrentClaims, IdentitySettingsDep, RedisDep, SessionDep
from console_api.sign_in import sign_in_step
from identity import mfa
from identity import service as identity_service
from identity.schemas import (
    LoginRequest,
    MfaActivateRequest,
    MfaEnrolment,
    MfaEnrolRequest,
    RefreshRequest,
    TokenResponse,
    UserView,
)

router = APIRouter(prefix="/api/v1", tags=["auth"])

@router.post("/auth/login", response_model=TokenResponse, summary="Sign in")
async def login(
    body: LoginRequest, request: Request, db_session: SessionDep, settings: IdentitySettingsDep
) -> TokenResponse:
    """Email, password and (staff, or anyone enrolled) a TOTP code, for an access token (15 min)
    and a rotating refresh token. Any failure is the same 401 ``invalid_credentials``."""
    async with sign_in_step(request, body.email, settings=settings):
        pair = await identity_service.login(
            db_session=db_session,
            email=body.email,
            password=body.password,
            settings=settings,
            totp=body.totp,
            recovery_code=body.recovery_code,
        )
    return TokenResponse(access_token=pair.access_token, refresh_token=pair.refresh_token)


@router.post("/auth/mfa/enrol", response_model=MfaEnrolment, summary="Start TOTP enrolment")
async def enrol_mfa(
    body: MfaEnrolRequest, request: Request, db_session: SessionDep, settings: IdentitySettingsDep
) -> MfaEnrolment:
    """A new TOTP secret and recovery codes, shown once; confirm with /auth/mfa/activate."""
    async with sign_in_step(request, body.email, settings=settings):
        user, secret, codes = await identity_service.enrol_mfa(
            db_session=db_session, email=body.email, password=body.password, settings=settings
        )
    return MfaEnrolment(
        secret=secret, otpauth_uri=mfa.provisioning_uri(user, secret), recovery_codes=codes
    )


@router.post(
    "/auth/mfa/activate", status_code=status.HTTP_204_NO_CONTENT, summary="Confirm TOTP enrolment"
)
async def activate_mfa(
    body: MfaActivateRequest, request: Request, db_session: SessionDep,
    settings: IdentitySettingsDep,
) -> None:
    """The first valid code switches the second factor on."""
    async with sign_in_step(request, body.email, settings=settings):
        await identity_service.activate_mfa(
            db_session=db_session, email=body.email, password=body.password, totp=body.totp,
            settings=settings,
        )


@router.post("/auth/refresh", response_model=TokenResponse, summary="Rotate a refresh token")
async def refresh(
    body: RefreshRequest, redis: RedisDep, db_session: SessionDep, settings: IdentitySettingsDep
) -> TokenResponse:
    """Each refresh token works once; presenting a spent one revokes the whole session. A staff
    session that began without a second factor is refused (sign in again with the code)."""
    pair = await identity_service.refresh(
        db_session=db_session, refresh_token=body.refresh_token, settings=settings,
        redis=redis,
    )
    return TokenResponse(access_token=pair.access_token, refresh_token=pair.refresh_token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out")
async def logout(body: RefreshRequest, redis: RedisDep, db_session: SessionDep) -> None:
    """Revoke the session of this refresh token: its access tokens and sockets end at once."""
    await identity_service.logout(
        db_session=db_session, refresh_token=body.refresh_token, redis=redis
    )


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
