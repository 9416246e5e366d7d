"""A worker starting during a database outage waits for it (a failed start stops uvicorn)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from data.durability import retry_unreachable


def _outage() -> OperationalError:
    return OperationalError("select 1", {}, Exception("server closed the connection"))


async def test_a_cut_connection_is_retried_until_the_call_succeeds():
    attempts = []

    async def load() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise _outage()
        return "loaded"

    assert await retry_unreachable(load, wait_s=5, what="test") == "loaded"
    assert len(attempts) == 3


async def test_an_outage_longer_than_the_wait_is_raised():
    async def load() -> str:
        raise _outage()

    with pytest.raises(OperationalError):
        await retry_unreachable(load, wait_s=0.2, what="test")


async def test_other_errors_are_not_retried():
    attempts = []

    async def load() -> str:
        attempts.append(1)
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        await retry_unreachable(load, wait_s=5, what="test")
    assert len(attempts) == 1
