"""Security headers on every response, no-store on personal data, and log redaction."""

from __future__ import annotations

import logging
import re

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console_api.access import ROUTE_ACCESS, route_key

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
    # Pages load their own scripts and styles only; the API docs page needs its CDN assets.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
}
DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")


class SecurityHeaders:
    """Adds the headers above; ``Cache-Control: no-store`` on every non-public API response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                settings = getattr(scope["app"].state, "identity_settings", None)
                csp = getattr(settings, "content_security_policy", None)
                for name, value in SECURITY_HEADERS.items():
                    if name == "Content-Security-Policy":
                        if scope["path"].startswith(DOCS_PATHS):
                            continue
                        value = csp or value
                    headers.setdefault(name, value)
                if _personal(scope):
                    headers["Cache-Control"] = "no-store"
                    headers.setdefault("Pragma", "no-cache")
            await send(message)

        await self.app(scope, receive, with_headers)


#: Where personal data is served: the API and the FHIR facade.
PERSONAL_PREFIXES = ("/api/", "/fhir/")


def _personal(scope: Scope) -> bool:
    """Anything under :data:`PERSONAL_PREFIXES` that is not an open, non-audited route may carry
    personal data."""
    if not scope["path"].startswith(PERSONAL_PREFIXES):
        return False
    key = route_key(HTTPConnection(scope)) if scope.get("route") is not None else None
    access = ROUTE_ACCESS.get(key) if key else None
    return access is None or access.action is not None or access.signed_in or bool(access.audit)


PHONE = re.compile(r"\+\d[\d ]{6,18}\d")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def redact(text: str) -> str:
    """Mask phone numbers and emails in a log line."""
    return EMAIL.sub("[email]", PHONE.sub("[phone]", text))


_installed = False


def install_log_redaction() -> None:
    """Every log record, whoever emits it, has phone numbers and emails masked (defence in depth:
    the code should not log them in the first place)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is the caller's bug
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
