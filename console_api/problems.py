"""Every error leaves as RFC 9457 problem+json with a stable machine-readable ``code``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from console_api.hardening import SECURITY_HEADERS
from console_api.write_retry import Contention
from data.contention import is_contention
from data.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LifelineError,
    NotFound,
    PreconditionFailed,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("lifeline.problems")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://lifeline.example/problems/"

STATUS_BY_ERROR: list[tuple[type[LifelineError], int]] = [
    (NotFound, 404),
    (PreconditionFailed, 412),
    (Conflict, 409),
    (InvalidInput, 422),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (TooManyRequests, 429),
    (Unavailable, 503),
]

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "service_unavailable",
}


def problem(
    status: int,
    *,
    code: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(jsonable_encoder(extra))
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def on_domain_error(request: Request, exc: LifelineError) -> JSONResponse:
    """Map a domain error category to its HTTP status."""
    status = next((s for cls, s in STATUS_BY_ERROR if isinstance(exc, cls)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after_s)}
    extra = dict(exc.extra)
    if isinstance(exc, InvalidInput):
        extra["errors"] = [{"field": exc.field, "message": exc.detail, "code": exc.code}]
    return problem(
        status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        headers=headers,
        **extra,
    )


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A 422 naming each offending field (malformed JSON is a 400)."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(
            400,
            code="malformed_json",
            title="Malformed JSON",
            detail="the request body is not valid JSON",
            instance=request.url.path,
        )
    fields = [
        {
            "field": _field_name(tuple(e.get("loc", ()))),
            "message": e.get("msg", "invalid"),
            "code": e.get("type", "invalid"),
        }
        for e in errors
    ]
    names = ", ".join(dict.fromkeys(f["field"] for f in fields))
    return problem(
        422,
        code="validation_error",
        title="Invalid request",
        detail=f"invalid value for: {names}",
        instance=request.url.path,
        errors=fields,
    )


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Framework errors (404 route, 405 method, ...) in the same shape."""
    code = HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem(
        exc.status_code,
        code=code,
        title=code.replace("_", " ").capitalize(),
        detail=detail,
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is unreachable (restarting, failing over): a 503 the client retries.

    A deadlock or serialization failure is no outage: it goes to
    :class:`console_api.write_retry.RetryOnContention`, which runs the request again.
    """
    if is_contention(exc):
        raise Contention(str(exc)) from exc
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                type(exc.__cause__ or exc).__name__)
    return problem(
        503,
        code="database_unavailable",
        title="Service unavailable",
        detail="the database is unreachable; retry shortly with the same Idempotency-Key",
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


async def on_unstorable_value(request: Request, exc: DataError) -> JSONResponse:
    """PostgreSQL refused a value (a NUL character, a number out of range): the caller's input.

    The statement failed, so its transaction rolled back and nothing was half-written.
    """
    log.info("value refused by the database on %s %s: %s", request.method, request.url.path,
             type(exc.orig).__name__)
    return problem(
        422,
        code="invalid_value",
        title="Invalid value",
        detail="a value in the request cannot be stored or searched (for example a NUL "
        "character or a number out of range)",
        instance=request.url.path,
    )


async def on_stale_data(request: Request, exc: StaleDataError) -> JSONResponse:
    """A row changed under this request (optimistic locking): 409, re-read and retry."""
    log.info("concurrent update on %s %s: %s", request.method, request.url.path, exc)
    return problem(
        409,
        code="concurrent_update",
        title="Concurrent update",
        detail="the resource changed while this request ran; read it again and retry",
        instance=request.url.path,
    )


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: log it and answer in problem form; the body never leaks internals."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    # Starlette answers this one from its outermost middleware, outside SecurityHeaders: the
    # headers are set here, so a 500 is as locked down as any other answer.
    return problem(
        500,
        code="internal_error",
        title="Internal error",
        detail="the server failed; the request may be retried with the same Idempotency-Key",
        instance=request.url.path,
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(LifelineError, on_domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, on_database_unavailable)
    app.add_exception_handler(StaleDataError, on_stale_data)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, on_unstorable_value)  # type: ignore[arg-type]
    app.add_exception_handler(InterfaceError, on_database_unavailable)
    app.add_exception_handler(Exception, on_unexpected)
