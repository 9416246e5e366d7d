"""How a message leaves: the real Twilio SDK, or the local outbox when no account is configured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from messaging.settings import MessagingSettings


@dataclass(frozen=True)
class SendResult:
    """The provider's id and status for an accepted message."""

    provider_sid: str | None
    status: str


class SendFailed(Exception):
    """The provider refused or could not be reached; ``permanent`` means do not retry."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmsTransport(Protocol):
    """Sends one message (blocking; run it off the event loop)."""

    def send(self, *, to: str, body: str, status_callback: str | None) -> SendResult:
        """Hand the message to the provider."""


class LocalOutbox:
    """No provider: the message stays in the database for operators to read (``make run``)."""

    def send(self, *, to: str, body: str, status_callback: str | None) -> SendResult:
        """Nothing leaves the machine."""
        return SendResult(provider_sid=None, status="stored")


class RedirectingHttpClient(TwilioHttpClient):
    """Twilio's HTTP client with the API host replaced (gateway or local stub)."""

    def __init__(self, base_url: str, **kwargs) -> None:
        super().__init__(**kwargs)
        parts = urlsplit(base_url)
        self._scheme, self._netloc = parts.scheme, parts.netloc

    def request(self, method, url, *args, **kwargs):
        """Rewrite scheme and host, keep the path Twilio's SDK built."""
        parts = urlsplit(url)
        url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


class TwilioTransport:
    """The real twilio SDK."""

    def __init__(self, settings: MessagingSettings) -> None:
        http_client = (
            RedirectingHttpClient(settings.twilio_api_base, timeout=10)
            if settings.twilio_api_base
            else TwilioHttpClient(timeout=10)
        )
        self._client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client
        )
        self._from = settings.twilio_from

    def send(self, *, to: str, body: str, status_callback: str | None) -> SendResult:
        """Create the message through Twilio's Messages API."""
        try:
            message = self._client.messages.create(
                to=to, from_=self._from, body=body, status_callback=status_callback
            )
        except TwilioException as exc:
            status = getattr(exc, "status", None)
            # 4xx other than 429 will not get better by retrying (bad number, auth).
            permanent = isinstance(status, int) and 400 <= status < 500 and status != 429
            raise SendFailed(str(exc), permanent=permanent) from exc
        except OSError as exc:
            raise SendFailed(f"Twilio unreachable: {exc}") from exc
        return SendResult(provider_sid=message.sid, status=message.status or "queued")


def make_transport(settings: MessagingSettings) -> SmsTransport:
    """Twilio when configured, else the local outbox."""
    return TwilioTransport(settings) if settings.twilio_enabled else LocalOutbox()
