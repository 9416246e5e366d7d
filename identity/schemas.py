"""Request and response shapes for sign-in and the current user."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field


class LoginRequest(BaseModel):
    """Credentials."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


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
