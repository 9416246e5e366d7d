"""Messages clients send on the socket, and the long-poll response."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Filters(BaseModel):
    """Optional narrowing of a subscription."""

    model_config = ConfigDict(extra="forbid")

    hospital_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    region: str | None = Field(default=None, max_length=64)

    def as_dict(self) -> dict[str, str]:
        """Only the filters that were given, as strings comparable with payload values."""
        return {k: str(v) for k, v in self.model_dump(exclude_none=True).items()}


class AuthMessage(BaseModel):
    """First message when no ``?token=`` was given: a bearer token, or a case and its token."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["auth"]
    token: str | None = None
    case_id: uuid.UUID | None = None
    case_token: str | None = None


class SubscribeMessage(BaseModel):
    """Start (or restart) a channel; with ``last_seq`` the missed events come first."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["subscribe"]
    channel: str = Field(max_length=64)
    last_seq: int | None = Field(default=None, ge=0)
    filters: Filters = Field(default_factory=Filters)


class UnsubscribeMessage(BaseModel):
    """Stop a channel."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["unsubscribe"]
    channel: str = Field(max_length=64)


class PingMessage(BaseModel):
    """Application-level ping; answered with a pong."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["ping"]


ClientMessage = TypeAdapter(
    Annotated[
        AuthMessage | SubscribeMessage | UnsubscribeMessage | PingMessage,
        Field(discriminator="type"),
    ]
)


class EventPage(BaseModel):
    """Long-poll answer: the events after ``after`` and where to continue from."""

    events: list[dict[str, Any]]
    last_seq: int
