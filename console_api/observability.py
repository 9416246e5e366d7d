"""Metrics, request ids and JSON logs: so operators see what the service does on its worst day.

Metrics are Prometheus (prometheus-client). With several uvicorn workers each worker writes its
samples to ``PROMETHEUS_MULTIPROC_DIR`` (set by ``lifeline serve``) and any worker's ``/metrics``
aggregates all of them; without that variable each process exposes its own registry. Figures read
from the database (cases per state, outbox lag) are computed at scrape time, so they are the same
whichever worker answers.

``/metrics`` is readable from the loopback interface without a token (a Prometheus agent on the
node; a request forwarded by a proxy counts as its real client, and only proxies listed in
``LIFELINE_IDENTITY_TRUSTED_PROXIES`` are believed) or by a caller whose roles hold ``metrics.read``
(operators, super admins).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console_api.client_address import is_local
from console_api.deps import OptionalClaims
from data.errors import Forbidden
from identity.roles import allowed

log = structlog.get_logger("lifeline.http")

REQUEST_ID_HEADER = "X-Request-Id"
#: Accepted client request ids: short, printable, safe to echo in headers and logs.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
UNMATCHED_ROUTE = "<unmatched>"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SOS_ROUTE = "/api/v1/emergency/cases"
DISPATCH_ROUTE = "/api/v1/emergency/cases/{case_id}/dispatch"

REQUEST_SECONDS = Histogram(
    "lifeline_http_request_duration_seconds",
    "HTTP request latency by route template, method and status.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
SOS_INTAKE = Counter(
    "lifeline_sos_intake_total",
    "SOS submissions by outcome: created, replayed (idempotent retry), rejected, failed.",
    ["outcome"],
)
DISPATCHES = Counter(
    "lifeline_dispatch_total",
    "Dispatch actions by outcome: dispatched, refused, failed.",
    ["outcome"],
)
WEBSOCKETS = Gauge(
    "lifeline_websocket_connections",
    "Open console WebSocket connections (summed over live workers).",
    multiprocess_mode="livesum",
)
LONG_POLLS = Gauge(
    "lifeline_long_poll_waiting",
    "Long-poll requests parked waiting for events (summed over live workers).",
    multiprocess_mode="livesum",
)


def request_id_from(raw: str | None) -> str:
    """The caller's X-Request-Id when it is well-formed, else a fresh one."""
    if raw and REQUEST_ID_PATTERN.fullmatch(raw):
        return raw
    return uuid.uuid4().hex


def _outcome(route: str, method: str, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    if method != "POST":
        return
    failed = status >= 500
    if route == SOS_ROUTE:
        replayed = any(k == b"idempotent-replayed" for k, _ in headers)
        outcome = (
            "failed" if failed else "rejected" if status >= 400
            else "replayed" if replayed else "created"
        )
        SOS_INTAKE.labels(outcome).inc()
    elif route == DISPATCH_ROUTE:
        outcome = "failed" if failed else "refused" if status >= 400 else "dispatched"
        DISPATCHES.labels(outcome).inc()


class Observe:
    """ASGI middleware: request id in and out, latency per route template, WebSocket count."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope.get("headers", []) if k == b"x-request-id"), None)
        request_id = request_id_from(raw.decode("latin-1") if raw is not None else None)
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
            else:
                await self._http(scope, receive, send, request_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        WEBSOCKETS.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            WEBSOCKETS.dec()

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        status = 500
        response_headers: list[tuple[bytes, bytes]] = []

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                response_headers = headers
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route_obj = scope.get("route")
            route = getattr(route_obj, "path", None) or UNMATCHED_ROUTE
            method = scope["method"] if route != UNMATCHED_ROUTE else "OTHER"
            REQUEST_SECONDS.labels(method, route, str(status)).observe(elapsed)
            _outcome(route, method, status, response_headers)
            log.info(
                "request",
                method=scope["method"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )


class DatabaseFigures:
    """Collector of figures only the database knows: cases per state, outbox backlog and lag."""

    def __init__(self, rows: dict[str, Any]) -> None:
        self.rows = rows

    def collect(self):
        cases = GaugeMetricFamily(
            "lifeline_cases", "Emergency cases by state.", labels=["status"]
        )
        for status, count in self.rows["cases"]:
            cases.add_metric([status], count)
        yield cases
        yield GaugeMetricFamily(
            "lifeline_outbox_unpublished_events",
            "Committed events not yet published to Redis.",
            value=self.rows["outbox_backlog"],
        )
        yield GaugeMetricFamily(
            "lifeline_outbox_lag_seconds",
            "Age of the oldest unpublished outbox event (0 when none wait).",
            value=self.rows["outbox_lag_s"],
        )


CASES_SQL = text("SELECT status, count(*) FROM emergency_cases GROUP BY status")
OUTBOX_SQL = text(
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
    "FROM outbox WHERE published_at IS NULL"
)


async def database_figures(request: Request) -> DatabaseFigures | None:
    """The database-side gauges; None (and no such series) when the database cannot answer."""
    try:
        async with request.app.state.engine.connect() as connection:
            cases = (await connection.execute(CASES_SQL)).all()
            backlog, lag = (await connection.execute(OUTBOX_SQL)).one()
    except Exception:  # noqa: BLE001 - metrics must still be served while the DB is down
        log.warning("metrics: database figures unavailable")
        return None
    return DatabaseFigures(
        {"cases": [(s, int(c)) for s, c in cases], "outbox_backlog": int(backlog),
         "outbox_lag_s": max(float(lag), 0.0)}
    )


def forget_dead_workers(directory: str) -> None:
    """A worker killed with -9 never says goodbye: drop its live gauges (open sockets)."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, directory)
        except PermissionError:
            pass


async def metrics(request: Request, claims: OptionalClaims) -> Response:
    """Prometheus text exposition of this node (all its workers)."""
    if not is_local(request) and not (claims and allowed(set(claims.roles), "metrics.read")):
        raise Forbidden(
            "metrics are readable from loopback or with the metrics.read permission",
            code="metrics_forbidden",
        )
    registry = CollectorRegistry()
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        forget_dead_workers(directory)
        MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    figures = await database_figures(request)
    if figures is not None:
        extra = CollectorRegistry()
        extra.register(figures)
        body += generate_latest(extra)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def install_observability(app: FastAPI) -> None:
    """Add the middleware and the ``/metrics`` route to ``app``."""
    configure_structlog()
    app.add_middleware(Observe)
    app.add_api_route(
        "/metrics",
        metrics,
        methods=["GET"],
        tags=["health"],
        summary="Prometheus metrics (loopback, or metrics.read)",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )


SECRET_IN_QUERY = re.compile(r"((?:token|access_token|case_token)=)[^&\s\"']+")


def redact_tokens(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Bearer tokens in URLs (WebSocket and SSE ``?token=``) never reach the logs."""
    message = event.get("event")
    if isinstance(message, str) and "token=" in message:
        event["event"] = SECRET_IN_QUERY.sub(r"\1[redacted]", message)
    return event


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.dictConfig`` rendering every record (ours, uvicorn's) as one JSON line."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_tokens,
    ]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    *shared,
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(),
                ],
            }
        },
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # Observe logs each request with its id and route; uvicorn's line would repeat it.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure_structlog() -> None:
    """structlog loggers hand their events to stdlib logging (and so to the JSON formatter)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

