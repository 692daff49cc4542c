"""Test databases: a PostgreSQL server (TEST_DATABASE_URL or 127.0.0.1:5432), databases of our own on
it, migrated SQLite files, apps on them."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from conduit.app import create_app
from conduit.settings import load_settings, normalize_database_url
from conduit.storage import migrations as migrate
from conduit.storage.database import Base, get_db
from conduit.users.models import Role

DEFAULT_PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pg_server_url_or_none() -> str | None:
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return normalize_database_url(explicit)
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return DEFAULT_PG_SERVER
    except OSError:
        return None


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


def migrated_sqlite_url(directory: Path) -> str:
    """A SQLite database file in *directory*, migrated to the latest revision; returns its URL."""
    url = f"sqlite:///{directory / 'conduit.db'}"
    engine = sa.create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def migrated(url: str) -> Iterator[str]:
    engine = sa.create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url


def make_app(database_url: str, **overrides: Any) -> Flask:
    """An app on *database_url*; Redis only when a test asks for it (not from the developer's shell)."""
    overrides.setdefault("redis_url", None)
    return create_app(load_settings(conduit_env="testing", database_url=database_url, **overrides))


def get_db_of(application: Flask) -> Any:
    with application.app_context():
        return get_db()


def reset_tables(engine: sa.Engine) -> None:
    # ``row_counts`` last: on SQLite the triggers of migration 0006 count the other deletes into it.
    tables = sorted((table.name for table in reversed(Base.metadata.sorted_tables)), key="row_counts".__eq__)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(sa.text(f"DELETE FROM {name}"))
            if has_sqlite_sequence(conn):
                conn.execute(sa.text("DELETE FROM sqlite_sequence"))
    with sa.orm.Session(engine) as session:
        Role.insert_roles(session)
        session.commit()


def has_sqlite_sequence(conn: sa.Connection) -> bool:
    return (
        conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first() is not None
    )
