"""ASGI middleware that writes one audit row per audited call and per denial, after the response."""

from __future__ import annotations

import ipaddress
import logging
import uuid
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console_api.access import ROUTE_ACCESS, route_key
from identity import audit

log = logging.getLogger("lifeline.audit")


def note_audit(connection: HTTPConnection, **facts: Any) -> None:
    """Let a handler add what only it knows (patient, break-glass reason) to its audit row."""
    hints = getattr(connection.state, "audit", None) or {}
    hints.update({k: v for k, v in facts.items() if v is not None})
    connection.state.audit = hints


def _ip(scope: Scope) -> str | None:
    client = scope.get("client")
    if not client:
        return None
    try:
        return str(ipaddress.ip_address(client[0]))
    except ValueError:
        return None


def _object_id(scope: Scope) -> str | None:
    """The first ``*_id`` path parameter; tokens in paths are never written down."""
    for name, value in (scope.get("path_params") or {}).items():
        if name.endswith("_id"):
            return str(value)[:64]
    return None


def audit_event(scope: Scope, status: int) -> audit.AuditEvent | None:
    """The row for this call, or None when the call is neither audited nor denied."""
    key = route_key(HTTPConnection(scope)) if scope.get("route") is not None else None
    access = ROUTE_ACCESS.get(key) if key else None
    state: dict[str, Any] = scope.get("state") or {}
    denied = state.get("denied") or (status in (401, 403) and "http_" + str(status))
    if not denied and (access is None or access.audit is None):
        return None
    claims = state.get("claims")
    hints: dict[str, Any] = dict(state.get("audit") or {})
    grant = hints.pop("grant", None)
    reason = hints.pop("reason", None)
    break_glass = grant == "break_glass"
    if break_glass:
        log.warning("break-glass access to %s by user %s", key, claims.user_id if claims else "?")
    outcome = "denied" if denied else ("allowed" if status < 400 else "failed")
    details: dict[str, Any] = {"status": status}
    if denied:
        details["denial"] = str(denied)
    if grant:
        details["grant"] = grant
    if "account" in hints:
        details["account"] = hints.pop("account")
    patient_id = hints.pop("patient_id", None)
    return audit.AuditEvent(
        actor=f"user:{claims.user_id}" if claims else "anonymous",
        actor_user_id=claims.user_id if claims else None,
        role=",".join(sorted(claims.roles))[:64] if claims else None,
        action=(key or f"{scope.get('method', '?')} (unmatched)")[:64],
        object_type=access.audit if access else None,
        object_id=_object_id(scope),
        patient_id=patient_id if isinstance(patient_id, uuid.UUID) else None,
        purpose=f"break-glass: {reason}" if break_glass and reason else None,
        outcome=outcome,
        ip=_ip(scope),
        priority=break_glass,
        details=details,
    )


class AuditTrail:
    """Writes the audit row in its own transaction once the response has been produced."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            await self._record(scope, status["code"])

    async def _record(self, scope: Scope, status: int) -> None:
        event = audit_event(scope, status)
        if event is None:
            return
        try:
            await scope["app"].state.audit_writer.write(event)
        except Exception:  # the response is already out; never crash after it
            log.exception("could not write an audit row for %s", event.action)
