"""Connection URLs of the high-availability setup: libpq multi-host and Redis Sentinel."""

from __future__ import annotations

import pytest
from sqlalchemy import make_url
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError, ProgrammingError

from data.db import sync_url
from data.failover import lost_connection
from data.redis_client import SentinelAddress, parse_sentinel_url


def connect_args(url: str) -> dict:
    parsed = make_url(sync_url(url))
    return parsed.get_dialect()().create_connect_args(parsed)[1]


def test_a_libpq_multi_host_url_keeps_every_host_and_its_attributes() -> None:
    url = ("postgresql://app:s%40cret@pg1:5432,pg2:5433/lifeline"
           "?target_session_attrs=read-write&connect_timeout=2")
    args = connect_args(url)
    # What psycopg hands to libpq: the same hosts in the same order, libpq picks the writer.
    assert args["host"] == "pg1,pg2" and args["port"] == "5432,5433"
    assert args["target_session_attrs"] == "read-write"
    assert args["connect_timeout"] == "2"
    assert args["user"] == "app" and args["password"] == "s@cret"
    assert args["dbname"] == "lifeline"


def test_single_host_urls_are_left_as_they_were() -> None:
    for url in ("postgresql+psycopg://postgres@127.0.0.1:5432/lifeline",
                "postgresql://postgres@127.0.0.1:5432/lifeline?sslmode=require"):
        assert sync_url(url) == url.replace("postgresql://", "postgresql+psycopg://")


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_database() -> None:
    address = parse_sentinel_url("redis+sentinel://:pw@s1:26379,s2,s3:26380/lifeline/2")
    assert address == SentinelAddress(
        sentinels=(("s1", 26379), ("s2", 26379), ("s3", 26380)), service="lifeline", db=2,
        password="pw",
    )
    assert parse_sentinel_url("redis+sentinel://s1/lifeline").db == 0


@pytest.mark.parametrize("url", ["redis://h/0", "redis+sentinel://s1:26379/",
                                 "redis+sentinel://s1/a/b/c", "redis+sentinel://:x@/lifeline"])
def test_a_malformed_sentinel_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_sentinel_url(url)


def test_only_a_lost_or_demoted_server_is_worth_a_retry() -> None:
    gone = OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))
    assert lost_connection(gone)
    assert lost_connection(InterfaceError("SELECT 1", {}, ConnectionError("closed")))
    demoted = InternalError("INSERT", {}, Exception("read-only"), connection_invalidated=True)
    assert lost_connection(demoted)
    assert not lost_connection(ProgrammingError("INSERT", {}, Exception("syntax")))
    assert not lost_connection(InternalError("INSERT", {}, Exception("other")))
