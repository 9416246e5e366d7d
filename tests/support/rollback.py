"""A test's writes that nobody else ever sees: one transaction, rolled back at the end.

After Netflix Dispatch's ``tests/conftest.py``: sessions are bound to one connection inside an
outer transaction, and a session's ``commit()`` only releases a SAVEPOINT, so the code under
test commits as it does in production while the shared test database keeps none of it. For
tests whose every read and write goes through this connection (not through the app's own
sessions, or concurrent connections: those tests use data of their own instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from sqlalchemy import Connection, create_engine
from sqlalchemy.orm import Session


@contextmanager
def rolled_back(database_url: str) -> Iterator[tuple[Connection, partial[Session]]]:
    """The connection (for code that takes an engine-like bind) and a session maker on it."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            outer = connection.begin()
            try:
                yield connection, partial(
                    Session, bind=connection, join_transaction_mode="create_savepoint"
                )
            finally:
                outer.rollback()
    finally:
        engine.dispose()
