"""Error categories every domain raises, so the HTTP layer maps them in one place."""

from __future__ import annotations


class LifelineError(Exception):
    """Base of all domain errors; ``code`` is the stable, machine-readable name."""

    code = "error"
    title = "Request failed"

    def __init__(self, detail: str, *, code: str | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class NotFound(LifelineError):
    """The named object does not exist (or the caller may not know that it does)."""

    code = "not_found"
    title = "Not found"


class Conflict(LifelineError):
    """The request is valid but clashes with the object's current state."""

    code = "conflict"
    title = "Conflict"


class InvalidInput(LifelineError):
    """The request is well-formed but a value is unacceptable; ``field`` names it."""

    code = "invalid_input"
    title = "Invalid input"

    def __init__(self, detail: str, *, field: str, code: str | None = None) -> None:
        super().__init__(detail, code=code, field=field)
        self.field = field


class Unauthenticated(LifelineError):
    """No valid credentials were presented."""

    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(LifelineError):
    """The caller is known but may not do this."""

    code = "forbidden"
    title = "Forbidden"


class PreconditionFailed(LifelineError):
    """The client's If-Match version is no longer current."""

    code = "precondition_failed"
    title = "Precondition failed"


class TooManyRequests(LifelineError):
    """Slow down: a rate limit or an account lockout; ``retry_after_s`` says for how long."""

    code = "too_many_requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after_s = max(1, int(retry_after_s))


class Unavailable(LifelineError):
    """A service the request needs (Redis, the database) is away for a moment: retry."""

    code = "service_unavailable"
    title = "Service unavailable"
