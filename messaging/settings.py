"""Twilio credentials (optional: without them messages are kept in the local outbox)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings

from data.settings import package_settings


class MessagingSettings(BaseSettings):
    """TWILIO_* (Twilio's own names) and LIFELINE_SMS_* environment variables."""

    model_config = package_settings("LIFELINE_SMS_", legacy=False)

    twilio_account_sid: str | None = Field(default=None, validation_alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(default=None, validation_alias="TWILIO_AUTH_TOKEN")
    twilio_from: str | None = Field(default=None, validation_alias="TWILIO_FROM")
    #: Send Twilio API calls to another host (a self-hosted gateway, or a test stub).
    twilio_api_base: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LIFELINE_SMS_TWILIO_API_BASE", "LIFELINE_TWILIO_API_BASE"),
    )
    #: The public URL Twilio calls back (shared with dispatch), used to verify webhook signatures
    #: behind a proxy.
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", validation_alias="LIFELINE_PUBLIC_BASE_URL"
    )
    max_attempts: int = Field(default=5, ge=1, validation_alias="LIFELINE_SMS_MAX_ATTEMPTS")
    retry_base_seconds: float = Field(
        default=2.0, gt=0, validation_alias="LIFELINE_SMS_RETRY_BASE_SECONDS"
    )
    poll_seconds: float = Field(default=1.0, gt=0, validation_alias="LIFELINE_SMS_POLL_SECONDS")
    #: Whether this process sends queued messages (turn off on workers that should not).
    sender_enabled: bool = Field(default=True, validation_alias="LIFELINE_SMS_SENDER")

    @property
    def twilio_enabled(self) -> bool:
        """All three Twilio settings are present."""
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)


@lru_cache
def get_messaging_settings() -> MessagingSettings:
    """Settings are read once per process."""
    return MessagingSettings()
