"""conduit.storage.shared_state: the settings, the client, the fail-open policy (back-off, rate-limited
warnings, recovery, invalidations kept until Redis answers) and the generation counter, against a real
Redis."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
import redis
from flask import Flask

from conduit.settings import ConfigError, load_settings
from conduit.storage import shared_state as module
from conduit.storage.shared_state import SharedState
from tests.support.databases import get_db_of, make_app
from tests.support.redis_server import closed_port_url, silent_server

# --- settings -------------------------------------------------------------------------------------------


@pytest.fixture
def no_redis_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in (
        "REDIS_URL",
        "REDIS_KEY_PREFIX",
        "REDIS_TIMEOUT",
        "REDIS_BACKOFF_SECONDS",
        "TAGS_CACHE_SECONDS",
        "TOKEN_CACHE_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CONDUIT_CONFIG_FILE", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("no_redis_environment")
def test_defaults() -> None:
    settings = load_settings(conduit_env="testing")

    assert settings.redis_url is None
    assert re.fullmatch(r"conduit:[0-9a-f]{8}:", settings.redis_key_prefix)
    assert settings.redis_timeout == 0.25
    assert settings.redis_backoff_seconds == 5.0
    assert settings.tags_cache_seconds == 300


@pytest.mark.usefixtures("no_redis_environment")
@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://redis",
        "redis://:secret@redis.internal:6380/2",
        "rediss://user:secret@redis.example.com:6380/0?ssl_cert_reqs=required",
        "unix:///run/redis/redis.sock?db=1",
    ],
)
def test_redis_urls_accepted(url: str) -> None:
    assert load_settings(conduit_env="testing", redis_url=url).redis_url == url


@pytest.mark.usefixtures("no_redis_environment")
@pytest.mark.parametrize("url", ["", "   "])
def test_a_blank_redis_url_is_embedded_mode(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", url)

    assert load_settings(conduit_env="testing").redis_url is None


@pytest.mark.usefixtures("no_redis_environment")
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://:s3cret@cache:6379", "REDIS_URL: must be a redis://, rediss:// or unix:// URL"),
        ("localhost:6379", "REDIS_URL: must be a redis://, rediss:// or unix:// URL"),
        ("memcached://cache", "REDIS_URL: must be a redis://, rediss:// or unix:// URL"),
        ("redis://", "REDIS_URL: a redis:// URL needs a host"),
        ("redis://:s3cret@/0", "REDIS_URL: a redis:// URL needs a host"),
        ("unix://", "REDIS_URL: a unix:// URL needs the socket's path"),
        ("redis://:s3cret@cache:port/0", "REDIS_URL: is not a valid Redis URL"),
        ("redis://:s3cret@cache:6379/zero", "REDIS_URL: is not a valid Redis URL"),
        ("redis://:s3cret@cache:6379/0?db=s3cret", "REDIS_URL: is not a valid Redis URL"),
    ],
)
def test_bad_redis_urls_are_refused_in_one_line_without_the_password(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            conduit_env="production", secret_key="k3Vq9xZp2LmN7rT4wY8bC1dF6gH0jS5aQeUi", redis_url=url
        )

    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text
    assert "s3cret" not in text


@pytest.mark.usefixtures("no_redis_environment")
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("redis_key_prefix", "has space:"),
        ("redis_key_prefix", "x" * 101),
        ("redis_timeout", 0),
        ("redis_timeout", 11),
        ("redis_backoff_seconds", -1),
        ("tags_cache_seconds", -1),
    ],
)
def test_bad_redis_settings_are_refused(name: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"^{name.upper()}: "):
        load_settings(conduit_env="testing", **{name: value})


@pytest.mark.usefixtures("no_redis_environment")
def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/1")
    monkeypatch.setenv("REDIS_KEY_PREFIX", "blue:")
    monkeypatch.setenv("REDIS_TIMEOUT", "0.5")
    monkeypatch.setenv("REDIS_BACKOFF_SECONDS", "0")
    monkeypatch.setenv("TAGS_CACHE_SECONDS", "0")

    settings = load_settings(conduit_env="testing")

    assert (settings.redis_url, settings.redis_key_prefix) == ("redis://cache:6379/1", "blue:")
    assert (settings.redis_timeout, settings.redis_backoff_seconds, settings.tags_cache_seconds) == (
        0.5,
        0,
        0,
    )


# --- the client -----------------------------------------------------------------------------------------


def test_init_app_builds_one_client_with_short_timeouts_and_no_retries() -> None:
    app = Flask("x")
    settings = load_settings(
        conduit_env="testing", redis_url="redis://cache:6380/3", redis_timeout=0.4, redis_key_prefix="p:"
    )

    state = module.init_app(app, settings)

    assert state is not None
    assert app.extensions[module.EXTENSION] is state
    with app.app_context():
        assert module.shared_state() is state
    kwargs = state.client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache", 6380, 3)
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.4
    assert state.client.connection_pool.make_connection().retry.get_retries() == 0
    assert state.key("tags:gen") == "p:tags:gen"
    state.close()


def test_init_app_without_redis_url_makes_nothing() -> None:
    app = Flask("x")

    assert module.init_app(app, load_settings(conduit_env="testing", redis_url=None)) is None
    assert module.EXTENSION not in app.extensions
    with app.app_context():
        assert module.shared_state() is None
        assert module.cached("tags", lambda: ["computed"], ttl=300, parse=lambda value: value) == ["computed"]
        module.invalidate("tags")  # a no-op


def test_without_redis_url_the_app_never_calls_redis(
    app: Flask, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``app`` (conftest's) only cleans the tables; the app under test is built with REDIS_URL unset."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Redis used in embedded mode")

    monkeypatch.setattr(redis.Redis, "from_url", refuse)
    monkeypatch.setattr(redis.Redis, "execute_command", refuse)
    application = make_app(database_url, redis_url=None)
    try:
        client = application.test_client()
        user = {"username": "emb", "email": "emb@example.com", "password": "password123"}
        token = client.post("/api/users", json={"user": user}).get_json()["user"]["token"]
        headers = {"Authorization": f"Token {token}"}
        article = {"title": "T", "description": "D", "body": "B", "tagList": ["python"]}
        created = client.post("/api/articles", json={"article": article}, headers=headers)
        assert created.status_code == 201
        assert client.get("/api/tags").get_json() == {"tags": ["python"]}
        slug = created.get_json()["article"]["slug"]
        assert client.delete(f"/api/articles/{slug}", headers=headers).status_code == 204
        assert client.get("/api/tags").get_json() == {"tags": []}
        ready = client.get("/readyz")

        assert module.EXTENSION not in application.extensions
        assert ready.status_code == 200
        assert ready.get_json()["checks"] == {"database": "ok", "schema": "ok"}
        assert ready.get_json()["status"] == "ready"
    finally:
        get_db_of(application).dispose()


# --- the fail-open policy -------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_state(
    url: str, prefix: str, clock: Clock, backoff: float = 5.0, timeout: float = 0.25
) -> SharedState:
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    return SharedState(client, prefix=prefix, backoff_seconds=backoff, clock=clock)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "conduit.storage.shared_state" and r.levelno == logging.WARNING
    ]


def test_a_failure_is_answered_by_the_default_and_starts_a_backoff(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    state = make_state(closed_port_url(), "p:", clock)
    calls: list[str] = []

    def get(client: redis.Redis) -> Any:
        calls.append("called")
        return client.get("p:x")

    assert state.call(get, "default", what="test") == "default"
    assert state.backing_off
    clock.now += 4.9
    assert state.call(get, "default", what="test") == "default"
    assert calls == ["called"]  # not tried during the back-off
    clock.now += 0.2
    assert state.call(get, "default", what="test") == "default"
    assert calls == ["called", "called"]
    assert len(warnings_of(caplog)) == 1
    state.close()


def test_warnings_are_rate_limited_and_count_what_they_did_not_log(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    state = make_state(closed_port_url(), "p:", clock, backoff=0)

    for _ in range(50):
        assert state.call(lambda client: client.get("p:x"), None, what="read") is None
        clock.now += 1
    assert len(warnings_of(caplog)) == 1
    clock.now += module.WARNING_INTERVAL_SECONDS
    state.call(lambda client: client.get("p:x"), None, what="read")

    messages = warnings_of(caplog)
    assert len(messages) == 2
    assert "(49 more failures since the last warning)" in messages[1]
    assert "127.0.0.1" in messages[0]  # where, from redis-py's message
    state.close()


def test_recovery_is_logged_once(keys: tuple[redis.Redis, str], caplog: pytest.LogCaptureFixture) -> None:
    rdb, prefix = keys
    caplog.set_level(logging.INFO, logger="conduit.storage.shared_state")
    clock = Clock()
    state = make_state(closed_port_url(), prefix, clock)
    state.call(lambda client: client.get(prefix + "x"), None, what="read")
    dead = state.client
    state.client = rdb  # Redis is back
    clock.now += 5

    assert state.call(lambda client: client.set(prefix + "x", "1"), None, what="write") is True
    assert state.call(lambda client: client.get(prefix + "x"), None, what="read") == b"1"

    infos = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.INFO and r.name == "conduit.storage.shared_state"
    ]
    assert infos == ["Redis answers again"]
    dead.close()


def test_ping_ignores_the_backoff_and_ends_it(keys: tuple[redis.Redis, str]) -> None:
    rdb, prefix = keys
    clock = Clock()
    state = make_state(closed_port_url(), prefix, clock)

    assert state.ping() is False
    assert state.backing_off
    state.client = rdb
    assert state.ping() is True
    assert not state.backing_off


def test_a_silent_redis_costs_one_timeout() -> None:
    with silent_server() as server:
        state = make_state(server.url, "p:", Clock(), timeout=0.2)
        started = time.perf_counter()

        assert state.call(lambda client: client.get("p:x"), "default", what="read") == "default"
        assert state.call(lambda client: client.get("p:x"), "default", what="read") == "default"

        assert time.perf_counter() - started < 2  # one timeout of 0.2 s, then the back-off; no retries
        state.close()


def test_an_invalidation_that_fails_is_sent_before_the_next_command(
    keys: tuple[redis.Redis, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Otherwise a short outage seen by one worker would leave every other worker serving the old
    value until it expires."""
    rdb, prefix = keys
    clock = Clock()
    state = make_state(closed_port_url(), prefix, clock)
    rdb.set(prefix + "tags:gen", 41)

    state.invalidate("tags")  # Redis down
    state.invalidate("tags")  # during the back-off: remembered, not tried
    assert rdb.get(prefix + "tags:gen") == b"41"
    state.client = rdb
    clock.now += 5
    assert state.call(lambda client: client.get(prefix + "other"), "default", what="read") is None

    assert rdb.get(prefix + "tags:gen") == b"42"  # one new generation for both writes
    assert len(warnings_of(caplog)) == 1


# --- the generation counter -----------------------------------------------------------------------------


def tag_list(value: Any) -> list[str] | None:
    return value if isinstance(value, list) else None


def test_cached_computes_once_per_generation(keys: tuple[redis.Redis, str]) -> None:
    rdb, prefix = keys
    state = SharedState(rdb, prefix=prefix, backoff_seconds=5)
    computed: list[int] = []

    def compute() -> list[str]:
        computed.append(1)
        return ["a", "b"]

    assert state.cached("tags", compute, ttl=60, parse=tag_list) == ["a", "b"]
    assert state.cached("tags", compute, ttl=60, parse=tag_list) == ["a", "b"]
    assert len(computed) == 1
    state.invalidate("tags")
    assert state.cached("tags", compute, ttl=60, parse=tag_list) == ["a", "b"]
    assert len(computed) == 2


def test_a_missing_generation_is_seeded_at_random(keys: tuple[redis.Redis, str]) -> None:
    rdb, prefix = keys
    state = SharedState(rdb, prefix=prefix, backoff_seconds=5)

    state.invalidate("a")  # INCR of a missing key
    state.cached("b", lambda: ["x"], ttl=60, parse=tag_list)  # read of a missing key

    assert int(rdb.get(prefix + "a:gen") or 0) > 1
    assert int(rdb.get(prefix + "b:gen") or 0) > 1
    assert rdb.get(prefix + "a:gen") != rdb.get(prefix + "b:gen")


def test_invalidate_replaces_a_generation_that_is_not_a_number(keys: tuple[redis.Redis, str]) -> None:
    rdb, prefix = keys
    state = SharedState(rdb, prefix=prefix, backoff_seconds=5)
    rdb.set(prefix + "tags:gen", "garbage")

    state.invalidate("tags")

    assert int(rdb.get(prefix + "tags:gen") or 0) > 0
    assert not state.backing_off
