"""Secrets and token lifetimes; production refuses to start with the development secret."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from data.settings import package_settings

DEV_SECRET = "dev-insecure-secret-change-me-0123456789abcdef"


class IdentitySettings(BaseSettings):
    """Read from LIFELINE_IDENTITY_* environment variables (formerly LIFELINE_*)."""

    model_config = package_settings("LIFELINE_IDENTITY_")

    #: The deployment's mode, shared by every package (``production`` refuses dev secrets).
    env: str = Field(default="development", validation_alias="LIFELINE_ENV")
    secret_key: str = DEV_SECRET
    access_token_minutes: int = Field(default=15, ge=1, le=15)
    refresh_token_days: int = Field(default=14, ge=1, le=90)
    token_issuer: str = "lifeline"
    token_audience: str = "lifeline-api"
    #: Abuse limits (fixed windows in Redis): attempts allowed per window. Sign-in attempts are
    #: counted per account *and* client address, so one client cannot lock an account out for
    #: everyone; ``login_per_account_global`` (every client together) only slows guessing
    #: spread over many addresses.
    login_per_account: int = Field(default=20, ge=1)
    login_account_window_s: int = Field(default=900, ge=1)
    login_per_account_global: int = Field(default=300, ge=1)
    login_per_ip: int = Field(default=100, ge=1)
    login_ip_window_s: int = Field(default=60, ge=1)
    sos_per_phone: int = Field(default=3, ge=1)
    sos_per_ip: int = Field(default=20, ge=1)
    sos_window_s: int = Field(default=600, ge=1)
    #: Password checks (argon2id, ~100 ms of CPU each) run in this many threads per worker, with
    #: at most ``password_hash_queue`` waiting; further sign-ins get 429 at once.
    password_hash_threads: int = Field(default=1, ge=1, le=16)
    password_hash_queue: int = Field(default=4, ge=0, le=256)
    #: Addresses (IPs or CIDR blocks, comma separated) of reverse proxies whose X-Forwarded-For
    #: is believed; empty: nobody's, the peer address is the client.
    trusted_proxies: str = ""
    #: Every other API call, per signed-in user (or per IP when anonymous), per minute.
    api_per_minute: int = Field(default=600, ge=1)
    #: Origins allowed to call the API from a browser (exact match); empty means same-origin only.
    cors_origins: list[str] = Field(default_factory=list)
    #: Content-Security-Policy of every response; None keeps console_api.hardening's strict one.
    content_security_policy: str | None = None
    #: HMAC key of the audit-chain checkpoints (never stored in the database); required in
    #: production. Development without it: a random key file under LIFELINE_DATA_DIR/audit.
    audit_key: str | None = None
    #: How often each worker checkpoints the audit chain's head (if it moved); also at shutdown.
    audit_checkpoint_seconds: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def refuse_weak_secret(self) -> IdentitySettings:
        """A production deployment with the published development secret would be forgeable."""
        if self.env == "production" and (
            self.secret_key == DEV_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "LIFELINE_IDENTITY_SECRET_KEY must be set to 32+ random characters in production"
            )
        if self.env == "production" and (not self.audit_key or len(self.audit_key) < 32):
            raise ValueError(
                "LIFELINE_IDENTITY_AUDIT_KEY must be set to 32+ random characters in production"
            )
        return self


@lru_cache
def get_identity_settings() -> IdentitySettings:
    """Settings are read once per process."""
    return IdentitySettings()
