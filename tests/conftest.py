"""Shared fixtures: every API test runs on SQLite and, when a server answers, on PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` (a server URL; a database of our own is created on it) or
from 127.0.0.1:5432. When neither answers the PostgreSQL half is skipped with a loud reason, except with
``CI=true``, where it fails: CI must exercise the real database.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from conduit.app import create_app
from conduit.settings import load_settings, normalize_database_url
from conduit.storage import migrations as migrate
from conduit.storage.database import Base, get_db
from conduit.users.models import Role

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DEFAULT_PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _pg_server_url() -> str | None:
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return normalize_database_url(explicit)
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return DEFAULT_PG_SERVER
    except OSError:
        return None


def require_or_skip(reason: str) -> NoReturn:
    """Skip loudly on a laptop; fail under CI=true, where every real dependency must be present."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY: {reason}")


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database of our own on the server, dropped afterwards."""
    name = f"conduit_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = _pg_server_url()
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
        yield from _migrated(url)
    else:
        with postgres_database(request.getfixturevalue("pg_server_url")) as url:
            yield from _migrated(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database that has never been migrated, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'conduit.db'}"
    else:
        with postgres_database(request.getfixturevalue("pg_server_url")) as url:
            yield url


def migrated_sqlite_url(directory: Path) -> str:
    """A SQLite database file in *directory*, migrated to the latest revision; returns its URL."""
    url = f"sqlite:///{directory / 'conduit.db'}"
    engine = sa.create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def _migrated(url: str) -> Iterator[str]:
    engine = sa.create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url


def make_app(database_url: str, **overrides: Any) -> Flask:
    """An app on *database_url*; Redis only when a test asks for it (not from the developer's shell)."""
    overrides.setdefault("redis_url", None)
    return create_app(load_settings(conduit_env="testing", database_url=database_url, **overrides))


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    application = make_app(database_url)
    yield application
    get_db_of(application).dispose()


def get_db_of(application: Flask) -> Any:
    with application.app_context():
        return get_db()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with empty tables and the three roles."""
    if "app" not in request.fixturenames:
        yield
        return
    application: Flask = request.getfixturevalue("app")
    engine = get_db_of(application).engine
    _reset(engine)
    yield


def _reset(engine: sa.Engine) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(sa.text(f"DELETE FROM {name}"))
            if _has_sqlite_sequence(conn):
                conn.execute(sa.text("DELETE FROM sqlite_sequence"))
    with sa.orm.Session(engine) as session:
        Role.insert_roles(session)
        session.commit()


def _has_sqlite_sequence(conn: sa.Connection) -> bool:
    return (
        conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first() is not None
    )


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


@dataclass
class Account:
    username: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


def register(
    client: FlaskClient, username: str, password: str = "password123", email: str | None = None
) -> Account:
    email = email or f"{username}@example.com"
    response = client.post(
        "/api/users", json={"user": {"username": username, "email": email, "password": password}}
    )
    assert response.status_code == 201, response.get_json()
    return Account(username, email, password, response.get_json()["user"]["token"])


@pytest.fixture
def alice(client: FlaskClient) -> Account:
    return register(client, "alice")


@pytest.fixture
def bob(client: FlaskClient) -> Account:
    return register(client, "bob")


def create_article(
    client: FlaskClient, account: Account, title: str = "Hello", tags: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    article = {"title": title, "description": "About it", "body": "The body", **fields}
    if tags is not None:
        article["tagList"] = tags
    response = client.post("/api/articles", json={"article": article}, headers=account.headers)
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()["article"]
    return result


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
