"""Patient self-registration: the patient app's "create an account" (issue 25).

Staff accounts are provisioned by an administrator (CLI); only the ``patient`` role can be had by
asking. The account and its patient profile are created together, then signed in.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.exc import IntegrityError

from care.schemas import e164
from console_api.deps import IdentitySettingsDep, SessionDep
from console_api.sign_in import sign_in_step
from data.errors import Conflict
from identity import service as identity_service
from identity.models import Patient
from identity.schemas import TokenResponse

router = APIRouter(prefix="/api/v1", tags=["auth"])


class SignUp(BaseModel):
    """What a new patient types: the profile can be completed later."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    full_name: str = Field(min_length=1, max_length=200)
    phone: str | None = None

    _phone = field_validator("phone")(e164)


def _taken(email: str) -> Conflict:
    return Conflict(f"a user with email {email} exists", code="user_exists")


@router.post("/auth/register", response_model=TokenResponse,
             status_code=status.HTTP_201_CREATED, summary="Create a patient account")
async def register(body: SignUp, request: Request, db_session: SessionDep,
                   settings: IdentitySettingsDep) -> TokenResponse:
    """A patient account and profile, signed in at once; 409 ``user_exists`` for a taken email.

    Passes the same throttles as sign-in (per address and per account), so it is no faster
    way to guess; the password meets the same policy as every account's.
    """
    async with sign_in_step(request, body.email, settings=settings):
        try:
            user = await identity_service.create_user(
                db_session=db_session, email=body.email, password=body.password,
                roles=["patient"], phone=body.phone,
            )
        except IntegrityError:
            # Two sign-ups of one email at once: the unique index decides, the loser is told.
            await db_session.rollback()
            raise _taken(body.email.strip().lower()) from None
        db_session.add(Patient(user_id=user.id, full_name=body.full_name.strip(),
                               phone=body.phone))
        await db_session.commit()
        pair = await identity_service.login(
            db_session=db_session, email=body.email, password=body.password, settings=settings,
        )
    return TokenResponse(access_token=pair.access_token, refresh_token=pair.refresh_token)
