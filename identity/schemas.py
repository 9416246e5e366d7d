"""Request and response shapes for sign-in and the current user."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field


class LoginRequest(BaseModel):
    """Credentials."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, min_length=6, max_length=8)
    recovery_code: str | None = Field(default=None, min_length=8, max_length=32)


class MfaEnrolRequest(BaseModel):
    """Password again: enrolment is a sign-in step, not a signed-in action."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class MfaActivateRequest(MfaEnrolRequest):
    """The first code from the authenticator confirms the secret was stored."""

    totp: str = Field(min_length=6, max_length=8)


class MfaEnrolment(BaseModel):
    """Shown once: the secret for the authenticator app and the recovery codes."""

    secret: str
    otpauth_uri: str
    recovery_codes: list[str]


class RefreshRequest(BaseModel):
    """A refresh token to rotate or revoke."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=512)


class TokenResponse(BaseModel):
    """A fresh access/refresh pair."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"


class UserView(BaseModel):
    """The signed-in user."""

    id: uuid.UUID
    email: str | None
    phone: str | None
    roles: list[str]
    hospital_id: uuid.UUID | None
    status: str
