"""The token check from each worker's cache (issue 16): a read with a token reads no account, and a
password change made through one app (another worker or host) revokes the other tokens in every app at
once, through Redis pub/sub. Needs the real Redis (skips loudly without, fails under CI=true)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from conduit.storage.invalidated_cache import InvalidatedCache
from conduit.users.auth import CACHE_EXTENSION
from tests.support.accounts import Account
from tests.support.databases import get_db_of, make_app
from tests.support.redis_server import closed_port_url


def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def cache_of(application: Flask) -> InvalidatedCache[Any]:
    cache: InvalidatedCache[Any] = application.extensions[CACHE_EXTENSION]
    return cache


@pytest.fixture
def two_apps(
    database_url: str, keys: tuple[redis.Redis, str], redis_url: str
) -> Iterator[tuple[Flask, Flask]]:
    """Two apps on one database and one Redis prefix: what two workers (or hosts) share."""
    _client, prefix = keys
    apps = [make_app(database_url, redis_url=redis_url, redis_key_prefix=prefix) for _ in range(2)]
    yield apps[0], apps[1]
    for application in apps:
        cache_of(application).stop()
        get_db_of(application).dispose()


def users_read(application: Flask, client: FlaskClient, url: str, token: str) -> int:
    """How many statements of a GET read the ``users`` table without joining articles (the token's check)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engines = get_db_of(application).engines
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(url, headers={"Authorization": f"Token {token}"})
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.get_json()
    return sum(1 for sql in seen if "FROM users" in sql and "articles" not in sql)


def login(client: FlaskClient, account: Account) -> str:
    body = {"user": {"email": account.email, "password": account.password}}
    response = client.post("/api/users/login", json=body)
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["user"]["token"]
    return token


def test_a_password_change_in_one_app_revokes_the_token_another_app_cached(
    two_apps: tuple[Flask, Flask], alice: Account
) -> None:
    writer_app, reader_app = two_apps
    writer, reader = writer_app.test_client(), reader_app.test_client()
    other = login(writer, alice)
    reader.get("/api/articles", headers={"Authorization": f"Token {other}"})  # starts the listener
    writer.get("/api/articles", headers={"Authorization": f"Token {alice.token}"})
    assert eventually(lambda: cache_of(reader_app).live and cache_of(writer_app).live)

    # A miss, read then cached; or 0 when the subscription went live while the request that started it
    # was still before its read, which then cached the account itself (a read that begins after the
    # subscription may be stored).
    assert users_read(reader_app, reader, "/api/articles", other) in (0, 1)
    assert users_read(reader_app, reader, "/api/articles", other) == 0  # from the cache
    assert users_read(reader_app, reader, "/api/articles/feed", other) == 0

    response = writer.put(
        "/api/user", json={"user": {"password": "another-password-1"}}, headers=alice.headers
    )
    assert response.status_code == 200

    def revoked() -> bool:
        answer = reader.get("/api/articles", headers={"Authorization": f"Token {other}"})
        return answer.status_code == 401

    assert eventually(revoked, 2.0), "the reader app still accepts a token revoked by the other app"
    assert reader.get("/api/articles", headers=alice.headers).status_code == 200  # the changer's token


def test_a_value_read_before_an_eviction_is_not_stored(keys: tuple[redis.Redis, str]) -> None:
    client, prefix = keys
    cache: InvalidatedCache[str] = InvalidatedCache(client, prefix + "channel", ttl=60, retry_seconds=1)
    try:
        cache.get(1)
        assert eventually(lambda: cache.live)
        generation = cache.begin()  # a reader misses and reads the database...
        cache.publish(1)  # ...while a writer commits and publishes
        cache.store(1, "stale", generation)
        assert cache.get(1) is None
        cache.store(1, "fresh", cache.begin())
        assert cache.get(1) == "fresh"
    finally:
        cache.stop()


def test_without_a_subscription_every_check_reads_the_account(database_url: str, alice: Account) -> None:
    application = make_app(database_url, redis_url=closed_port_url(), redis_timeout=0.2)
    try:
        client = application.test_client()
        token = login(client, alice)
        for _ in range(3):
            assert users_read(application, client, "/api/articles", token) == 1
        assert not cache_of(application).live
    finally:
        cache_of(application).stop()
        get_db_of(application).dispose()
