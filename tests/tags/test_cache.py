"""GET /api/tags cached in a real Redis under a generation counter; writes invalidate it; a dead or
silent Redis costs nothing but the cache. Each test has a key prefix of its own and deletes its keys."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import conduit
from conduit.storage import shared_state
from conduit.tags import routes as tags_routes
from tests.support.accounts import Account, create_article, register
from tests.support.databases import get_db_of, make_app
from tests.support.redis_server import closed_port_url, silent_server

MakeApp = Callable[..., Flask]


@pytest.fixture
def rdb(keys: tuple[redis.Redis, str]) -> redis.Redis:
    return keys[0]


@pytest.fixture
def prefix(keys: tuple[redis.Redis, str]) -> str:
    return keys[1]


def _close(application: Flask) -> None:
    state = application.extensions.get(shared_state.EXTENSION)
    if state is not None:
        state.close()
    get_db_of(application).dispose()


@pytest.fixture
def app(database_url: str, redis_url: str, prefix: str) -> Iterator[Flask]:
    """Overrides conftest's app: this module's app caches in Redis, under the test's own prefix."""
    application = make_app(database_url, redis_url=redis_url, redis_key_prefix=prefix)
    yield application
    _close(application)


@pytest.fixture
def other_app(database_url: str, app: Flask) -> Iterator[MakeApp]:
    """Apps with other settings on the same (cleaned) database."""
    made: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        application = make_app(database_url, **overrides)
        made.append(application)
        return application

    yield build
    for application in made:
        _close(application)


def tags(client: FlaskClient) -> list[str]:
    response = client.get("/api/tags")
    assert response.status_code == 200, response.get_json()
    names: list[str] = response.get_json()["tags"]
    return names


def generation(rdb: redis.Redis, prefix: str) -> int:
    value = rdb.get(prefix + "tags:gen")
    assert value is not None
    return int(value)


def wait_for(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def shared_state_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "conduit.storage.shared_state" and r.levelno == logging.WARNING
    ]


def test_the_second_read_comes_from_redis_without_sql(
    client: FlaskClient, alice: Account, count_queries: Any, rdb: redis.Redis, prefix: str
) -> None:
    create_article(client, alice, tags=["python", "flask"])
    with count_queries() as first:
        assert tags(client) == ["flask", "python"]
    with count_queries() as second:
        assert tags(client) == ["flask", "python"]

    assert first, "the first read must compute the list from the database"
    assert second == []
    value_key = f"{prefix}tags:{generation(rdb, prefix)}"
    assert rdb.get(value_key) == b'["flask","python"]'
    assert 0 < rdb.ttl(value_key) <= 300
    assert rdb.ttl(prefix + "tags:gen") == -1  # the generation never expires


def test_every_key_is_under_the_prefix(
    client: FlaskClient, alice: Account, rdb: redis.Redis, prefix: str
) -> None:
    create_article(client, alice, tags=["x"])
    tags(client)

    found = {key.decode() for key in rdb.scan_iter(match=prefix + "*")}
    # the article's creation also started a generation of the article-list cache (conduit.articles.cache)
    expected = {f"{prefix}tags:gen", f"{prefix}tags:{generation(rdb, prefix)}", f"{prefix}article-lists:gen"}
    assert found == expected


def test_creating_an_article_invalidates(
    client: FlaskClient, alice: Account, rdb: redis.Redis, prefix: str
) -> None:
    assert tags(client) == []
    before = generation(rdb, prefix)

    create_article(client, alice, tags=["new"])

    assert generation(rdb, prefix) == before + 1
    assert tags(client) == ["new"]


def test_an_article_without_tags_does_not_invalidate(
    client: FlaskClient, alice: Account, rdb: redis.Redis, prefix: str
) -> None:
    assert tags(client) == []
    before = generation(rdb, prefix)

    create_article(client, alice, tags=[])
    create_article(client, alice, "No tags at all")

    assert generation(rdb, prefix) == before
    assert tags(client) == []


def test_changing_the_tag_list_invalidates(
    client: FlaskClient, alice: Account, rdb: redis.Redis, prefix: str
) -> None:
    slug = create_article(client, alice, tags=["old", "kept"])["slug"]
    assert tags(client) == ["kept", "old"]
    before = generation(rdb, prefix)

    response = client.put(
        f"/api/articles/{slug}", json={"article": {"tagList": ["kept", "new"]}}, headers=alice.headers
    )

    assert response.status_code == 200
    assert generation(rdb, prefix) == before + 1
    assert tags(client) == ["kept", "new"]


def test_an_update_without_tag_list_does_not_invalidate(
    client: FlaskClient, alice: Account, rdb: redis.Redis, prefix: str
) -> None:
    slug = create_article(client, alice, tags=["kept"])["slug"]
    assert tags(client) == ["kept"]
    before = generation(rdb, prefix)

    response = client.put(
        f"/api/articles/{slug}", json={"article": {"body": "New body"}}, headers=alice.headers
    )

    assert response.status_code == 200
    assert generation(rdb, prefix) == before
    assert tags(client) == ["kept"]


def test_deleting_an_article_invalidates(
    client: FlaskClient, alice: Account, bob: Account, rdb: redis.Redis, prefix: str
) -> None:
    doomed = create_article(client, alice, "Doomed", tags=["only-here", "shared"])["slug"]
    create_article(client, bob, "Kept", tags=["shared"])
    assert tags(client) == ["only-here", "shared"]
    before = generation(rdb, prefix)

    assert client.delete(f"/api/articles/{doomed}", headers=alice.headers).status_code == 204

    assert generation(rdb, prefix) == before + 1
    assert tags(client) == ["shared"]


def test_other_workers_see_an_invalidation_at_once(
    app: Flask, other_app: MakeApp, redis_url: str, prefix: str, alice: Account
) -> None:
    """Two apps on one Redis and one database stand for two workers (or hosts)."""
    writer = app.test_client()
    reader = other_app(redis_url=redis_url, redis_key_prefix=prefix).test_client()
    assert tags(reader) == []

    create_article(writer, alice, tags=["fresh"])

    assert tags(reader) == ["fresh"]


def test_a_reader_that_raced_a_writer_cannot_hide_the_write(
    client: FlaskClient,
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
    rdb: redis.Redis,
    prefix: str,
    count_queries: Any,
) -> None:
    """The reader reads the generation and computes the old list; the writer commits and increments
    the generation before the reader stores its result: the stale list lands under the old
    generation, and the next reader computes the list again."""
    create_article(client, alice, "First", tags=["old"])
    real_used_tags = tags_routes.used_tags
    raced: list[int] = []

    def used_tags_then_a_write(db: Any, most: int) -> list[str]:
        result = real_used_tags(db, most)
        if not raced:
            raced.append(generation(rdb, prefix))
            create_article(client, alice, "Second", tags=["new"])  # a request inside the request
        return result

    monkeypatch.setattr(tags_routes, "used_tags", used_tags_then_a_write)

    assert tags(client) == ["old"]  # the racing reader answers what it read: fine

    old_generation = raced[0]
    assert generation(rdb, prefix) == old_generation + 1
    assert rdb.get(f"{prefix}tags:{old_generation}") == b'["old"]'  # the stale value, filed away
    with count_queries() as statements:
        assert tags(client) == ["new", "old"]
    assert statements, "the next reader must compute the list again"
    assert tags(client) == ["new", "old"]


@pytest.mark.parametrize(
    "bad_value",
    [b"not json", b"\xff\xfe\x00", b'{"tags": ["x"]}', b"[1, 2]", b"null", b""],
    ids=["not-json", "not-utf8", "object", "numbers", "null", "empty"],
)
def test_an_unreadable_cached_value_is_a_miss(
    client: FlaskClient,
    alice: Account,
    rdb: redis.Redis,
    prefix: str,
    bad_value: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    create_article(client, alice, tags=["real"])
    assert tags(client) == ["real"]
    value_key = f"{prefix}tags:{generation(rdb, prefix)}"
    rdb.set(value_key, bad_value, ex=300)

    assert tags(client) == ["real"]

    assert rdb.get(value_key) == b'["real"]'  # repaired by the read
    assert len(shared_state_warnings(caplog)) == 1


def test_a_generation_that_is_not_a_number_is_replaced(
    client: FlaskClient, alice: Account, rdb: redis.Redis, prefix: str
) -> None:
    create_article(client, alice, tags=["real"])
    rdb.set(prefix + "tags:gen", "garbage")

    assert tags(client) == ["real"]
    assert tags(client) == ["real"]

    generation(rdb, prefix)  # an integer again
    create_article(client, alice, "More", tags=["more"])
    assert tags(client) == ["more", "real"]


def test_a_lost_generation_starts_again_at_a_random_number(
    client: FlaskClient, alice: Account, rdb: redis.Redis, prefix: str
) -> None:
    """After an eviction or a restart without persistence, counting again from 0 could meet a value
    cached under that number before: the generation restarts at a random value instead."""
    create_article(client, alice, tags=["before"])
    assert tags(client) == ["before"]
    first = generation(rdb, prefix)
    rdb.set(f"{prefix}tags:1", b'["stale"]', ex=300)
    rdb.delete(prefix + "tags:gen")

    create_article(client, alice, "After", tags=["after"])  # INCR of a missing generation

    assert generation(rdb, prefix) not in (1, first)
    assert tags(client) == ["after", "before"]


def test_readyz_reports_redis(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.get_json()
    assert body.keys() >= {"version", "revision"}
    body = {key: value for key, value in body.items() if key not in ("version", "revision")}
    assert body == {"status": "ready", "checks": {"database": "ok", "schema": "ok", "redis": "ok"}}


def test_tags_cache_seconds_zero_disables_the_cache(
    other_app: MakeApp, redis_url: str, prefix: str, rdb: redis.Redis, alice: Account
) -> None:
    client = other_app(redis_url=redis_url, redis_key_prefix=prefix, tags_cache_seconds=0).test_client()
    create_article(client, alice, tags=["x"])

    assert tags(client) == ["x"]
    assert tags(client) == ["x"]
    assert rdb.get(f"{prefix}tags:{generation(rdb, prefix)}") is None  # never stored


@pytest.mark.parametrize("backoff", [5.0, 0.0], ids=["backoff", "no-backoff"])
def test_a_dead_redis_costs_only_the_cache(
    other_app: MakeApp, caplog: pytest.LogCaptureFixture, backoff: float
) -> None:
    """Nothing listens on REDIS_URL: the API works from the database, readiness stays 200 but says
    degraded, and the outage is logged once, not once per request (even without back-off)."""
    client = other_app(redis_url=closed_port_url(), redis_backoff_seconds=backoff).test_client()
    account = register(client, "carol")
    create_article(client, account, tags=["python"])

    for _ in range(20):
        assert tags(client) == ["python"]
    slug = create_article(client, account, "Second", tags=["flask"])["slug"]
    assert tags(client) == ["flask", "python"]
    assert client.delete(f"/api/articles/{slug}", headers=account.headers).status_code == 204
    assert tags(client) == ["python"]
    ready = client.get("/readyz")

    assert ready.status_code == 200
    assert ready.get_json() == {
        "version": conduit.__version__,
        "revision": "unknown",
        "status": "ready",
        "checks": {"database": "ok", "schema": "ok", "redis": "unavailable"},
        "degraded": ["redis"],
    }
    assert "Retry-After" not in ready.headers
    warnings = shared_state_warnings(caplog)
    assert len(warnings) == 1, [w.getMessage() for w in warnings]
    assert "ConnectionError" in warnings[0].getMessage()


def test_a_silent_redis_is_tried_once_per_backoff(other_app: MakeApp, alice: Account) -> None:
    """A Redis that accepts connections and never answers: the first request waits REDIS_TIMEOUT,
    the next ones do not try Redis during the back-off."""
    with silent_server() as server:
        application = other_app(  # without the token cache, whose subscription is a connection of its own
            redis_url=server.url, redis_timeout=0.1, redis_backoff_seconds=300, token_cache_seconds=0
        )
        client = application.test_client()
        create_article(client, alice, tags=["python"])
        for _ in range(10):
            assert tags(client) == ["python"]
        ready = client.get("/readyz")  # readiness asks even during the back-off

        assert wait_for(lambda: len(server.connections) >= 2)
        assert len(server.connections) == 2
        assert ready.status_code == 200
        assert ready.get_json()["checks"]["redis"] == "unavailable"
