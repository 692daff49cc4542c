"""Round trips to PostgreSQL per read, counted on the wire with libpq's protocol trace (issue 16): no
pre-ping ``SELECT 1``, no ``BEGIN``, no closing ``ROLLBACK``, and with Redis no read of the token's account
(each worker's cache, tests/users/test_token_cache.py); a round trip is a ``Query`` (simple protocol) or
an ``Execute`` (extended protocol). bench/round_trips.py prints the same for every endpoint."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from conduit.users.auth import CACHE_EXTENSION
from tests.support.accounts import Account, create_article
from tests.support.databases import get_db_of, make_app


@pytest.fixture
def traced(
    database_url: str, app: Flask, tmp_path: Path, redis_url: str, keys: tuple[redis.Redis, str]
) -> Iterator[tuple[Flask, Path]]:
    if not database_url.startswith("postgresql"):
        pytest.skip("round trips are counted with libpq's trace (PostgreSQL)")
    from psycopg import pq

    trace = tmp_path / "libpq.trace"
    sink = trace.open("w")

    def start_tracing(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.pgconn.trace(sink.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    # An app of its own: every connection is traced from its start; with Redis, as in production.
    # The anonymous first page's Redis cache off: these are the database's round trips (a cached page
    # has none: tests/articles/test_list_cache.py).
    application = make_app(database_url, redis_url=redis_url, redis_key_prefix=keys[1], list_cache_seconds=0)
    for engine in get_db_of(application).engines:
        sa.event.listen(engine, "connect", start_tracing)
    yield application, trace
    application.extensions[CACHE_EXTENSION].stop()
    get_db_of(application).dispose()
    sink.close()


def sent_during(client: FlaskClient, trace: Path, url: str, headers: dict[str, str]) -> list[str]:
    """The protocol messages the app sent for the last of three identical GETs (a warm pool)."""
    for _ in range(3):
        start = trace.stat().st_size
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_json()
    with trace.open() as text:
        text.seek(start)
        return [line.rstrip("\n").split("\t")[2] for line in text if line.startswith("F\t")]


def round_trips(messages: list[str]) -> int:
    """Statements run: a ``Parse, Sync`` of its own is psycopg preparing a statement on its fifth run
    (``prepare_threshold``), once per connection, not a per-request cost."""
    return sum(1 for kind in messages if kind in ("Query", "Execute"))


def test_a_read_is_its_statements_and_nothing_else(
    traced: tuple[Flask, Path], client: FlaskClient, alice: Account, bob: Account
) -> None:
    application, trace = traced
    slug = create_article(client, alice, "Traced", tags=["t"])["slug"]
    comment = {"comment": {"body": "Traced too"}}
    response = client.post(f"/api/articles/{slug}/comments", json=comment, headers=alice.headers)
    assert response.status_code == 201, response.get_json()
    reader = application.test_client()
    assert reader.get("/api/articles", headers=alice.headers).status_code == 200  # starts the listener
    deadline = time.monotonic() + 5
    while not application.extensions[CACHE_EXTENSION].live and time.monotonic() < deadline:
        time.sleep(0.02)
    expected = {
        ("/api/articles?limit=20", False): 1,  # the page with its count
        ("/api/articles?limit=20", True): 1,  # the token checked from the worker's cache
        ("/api/articles?tag=t&limit=20", False): 1,  # the tag's id a subquery of the page
        ("/api/articles?tag=t&limit=20", True): 1,
        ("/api/articles?author=nobody&offset=40", True): 1,  # past the end: the count alone
        (f"/api/articles/{slug}", True): 1,
        ("/api/articles/feed", True): 1,
        (f"/api/articles/{slug}/comments", False): 1,  # the article and its page together
        (f"/api/articles/{slug}/comments", True): 1,
        ("/api/profiles/bob", False): 1,
        ("/api/profiles/bob", True): 1,  # the following flag in the profile's statement
    }
    for (url, with_token), trips in expected.items():
        messages = sent_during(reader, trace, url, alice.headers if with_token else {})
        assert "Query" not in messages, f"{url}: BEGIN, ROLLBACK or a pre-ping sent: {messages}"
        assert round_trips(messages) == trips, f"{url}: {messages}"
