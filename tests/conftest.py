"""Shared fixtures: every API test runs on SQLite and, when a server answers, on PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` (a server URL; a database of our own is created on it) or
from 127.0.0.1:5432. When neither answers the PostgreSQL half is skipped with a loud reason, except with
``CI=true``, where it fails: CI must exercise the real database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from conduit.observability import logs
from conduit.settings import load_settings
from tests.support.accounts import Account, register
from tests.support.databases import (
    get_db_of,
    make_app,
    migrated,
    migrated_sqlite_url,
    pg_server_url_or_none,
    postgres_database,
    reset_tables,
)
from tests.support.redis_server import own_keys, redis_url_or_skip
from tests.support.skips import require_or_skip


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = pg_server_url_or_none()
    if url is None:
        require_or_skip("no PostgreSQL server (set TEST_DATABASE_URL or run one on 127.0.0.1:5432)")
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except sa.exc.OperationalError as exc:
        require_or_skip(f"PostgreSQL at {url} does not accept connections: {str(exc).splitlines()[0]}")
    return str(url)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'conduit.db'}"
        yield from migrated(url)
    else:
        with postgres_database(request.getfixturevalue("pg_server_url")) as url:
            yield from migrated(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database that has never been migrated, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'conduit.db'}"
    else:
        with postgres_database(request.getfixturevalue("pg_server_url")) as url:
            yield url


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    application = make_app(database_url)
    yield application
    get_db_of(application).dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with empty tables and the three roles."""
    if "app" not in request.fixturenames:
        yield
        return
    application: Flask = request.getfixturevalue("app")
    engine = get_db_of(application).engine
    reset_tables(engine)
    yield


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """Runs ``conduit`` commands against the test database, from an empty working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONDUIT_ENV", "testing")
    monkeypatch.setenv("DATABASE_URL", database_url)
    return CliRunner()


@pytest.fixture
def alice(client: FlaskClient) -> Account:
    return register(client, "alice")


@pytest.fixture
def bob(client: FlaskClient) -> Account:
    return register(client, "bob")


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], Any]:
    """``with count_queries() as statements:`` records every SQL statement sent to the database."""
    engines = get_db_of(app).engines  # writes' and reads' (one engine on SQLite)

    @contextmanager
    def counter() -> Iterator[list[str]]:
        statements: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        for engine in engines:
            sa.event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            for engine in engines:
                sa.event.remove(engine, "before_cursor_execute", record)

    return counter


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database of the test's own, for a server process the test starts."""
    return migrated_sqlite_url(tmp_path)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory for a server process: what it writes stays out of the checkout."""
    path = tmp_path / "run"
    path.mkdir()
    return path


@pytest.fixture
def redis_url() -> str:
    return redis_url_or_skip()


@pytest.fixture
def keys(redis_url: str) -> Iterator[tuple[redis.Redis, str]]:
    """A client of the test Redis and a key prefix of the test's own, whose keys are deleted after."""
    with own_keys(redis_url) as client_and_prefix:
        yield client_and_prefix


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """For tests that install sinks of their own: afterwards the process logs as the test suite does."""
    yield
    logs.reset_logging()
    logs.configure_logging(load_settings(conduit_env="testing"))
