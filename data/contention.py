"""Which database errors are contention (a transaction PostgreSQL aborted to resolve a deadlock or
a serialization failure), not an outage: the HTTP layer and the GPS ingest retry them."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

#: serialization_failure, deadlock_detected, lock_not_available (SQLSTATE, PostgreSQL appendix A).
CONTENTION_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def is_contention(exc: BaseException) -> bool:
    """Whether a database error is a transaction PostgreSQL aborted to resolve contention."""
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return sqlstate in CONTENTION_SQLSTATES
