"""Liveness (``/healthz``: no I/O at all) and readiness (``/readyz``: the database answers at the schema
revision of the code)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

import conduit
from conduit.observability.health import code_revisions
from conduit.ops.cli import main as conduit_cli
from conduit.storage import migrations as migrate
from conduit.storage.database import get_db
from tests.support.databases import get_db_of, make_app, postgres_database

UNREACHABLE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/x"


@pytest.fixture
def unreachable_app() -> Iterator[Flask]:
    application = make_app(UNREACHABLE_DB, db_connect_timeout=1)
    yield application
    with application.app_context():
        get_db().dispose()


def statements_during(application: Flask, action: Any) -> list[str]:
    engine = get_db_of(application).engine
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return statements


def test_healthz_answers_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json()["status"] == "ok"


def test_probes_name_the_build(client: FlaskClient) -> None:
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        body = response.get_json()
        assert body["version"] == conduit.__version__
        assert body["revision"] == "unknown"  # CONDUIT_REVISION is not set in the tests
        assert response.headers["X-Conduit-Version"] == f"{conduit.__version__} (unknown)"


def test_the_revision_comes_from_the_settings(tmp_path: Path) -> None:
    application = make_app(f"sqlite:///{tmp_path / 'unused.db'}", conduit_revision="0123abc")
    response = application.test_client().get("/healthz")
    assert response.get_json()["revision"] == "0123abc"
    assert response.headers["X-Conduit-Version"].endswith(" (0123abc)")


def test_healthz_touches_no_database(app: Flask, client: FlaskClient) -> None:
    responses = []
    statements = statements_during(app, lambda: responses.append(client.get("/healthz")))
    assert responses[0].status_code == 200
    assert statements == []


def test_healthz_works_when_the_database_is_unreachable(unreachable_app: Flask) -> None:
    client = unreachable_app.test_client()
    for _ in range(3):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert response.get_json()["status"] == "ok"
        assert "Retry-After" not in response.headers


def test_healthz_head(client: FlaskClient) -> None:
    assert client.head("/healthz").status_code == 200


def test_readyz_answers_ready(app: Flask, client: FlaskClient) -> None:
    responses = []
    statements = statements_during(app, lambda: responses.append(client.get("/readyz")))
    response = responses[0]
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "schema": "ok"}
    # One query, as when the probe was a SELECT 1: the schema check reads the revision instead.
    queries = [statement for statement in statements if not statement.startswith("SET LOCAL")]
    assert queries == ["SELECT version_num FROM alembic_version"]


def test_readyz_is_503_when_the_database_is_unreachable(unreachable_app: Flask) -> None:
    response = unreachable_app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == "application/json"
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["status"] == "not ready"
    assert body["checks"] == {"database": "unavailable"}
    text = response.get_data(as_text=True)
    assert "psycopg" not in text
    assert "Traceback" not in text


def test_readyz_and_the_api_survive_dropped_database_connections(pg_server_url: str) -> None:
    """After the server drops every connection (a restart, a failover) the next requests reconnect."""
    with postgres_database(pg_server_url) as url:
        engine = sa.create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        application = make_app(url)
        try:
            client = application.test_client()
            assert client.get("/readyz").status_code == 200
            assert client.get("/api/tags").status_code == 200
            database = sa.make_url(url).database
            admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                killed = conn.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": database},
                ).scalar_one()
            admin.dispose()
            assert killed >= 1
            response = client.get("/readyz")
            assert response.status_code == 200, response.get_json()
            assert client.get("/api/tags").status_code == 200
        finally:
            get_db_of(application).dispose()


def test_probes_accept_no_other_methods(client: FlaskClient) -> None:
    for path in ("/healthz", "/readyz"):
        response = client.post(path)
        assert response.status_code == 405
        assert response.mimetype == "application/json"


def test_readyz_follows_the_schema_until_conduit_deploy_ran(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Empty, behind, at head after `conduit deploy`, ahead (an older release on a newer schema)."""
    head, known = code_revisions()
    assert head in known
    assert len(known) >= 2  # the "behind at an older revision" case below needs one
    application = make_app(fresh_database_url)
    client = application.test_client()
    engine = sa.create_engine(fresh_database_url)
    try:

        def schema_error() -> str:
            response = client.get("/readyz")
            assert response.status_code == 503, response.get_json()
            assert response.mimetype == "application/json"
            assert int(response.headers["Retry-After"]) > 0
            body = response.get_json()
            assert body["status"] == "not ready"
            assert body["checks"]["database"] == "ok"
            assert list(body["errors"]) == ["schema"]
            return f"{body['checks']['schema']}: {body['errors']['schema'][0]}"

        empty = schema_error()
        assert empty.startswith("behind: is behind: the database is at no revision (empty)")
        assert f"this release needs {head}; run conduit deploy" in empty

        first = sorted(known)[0]
        migrate.upgrade(engine, first)
        assert schema_error().startswith(f"behind: is behind: the database is at {first}, ")

        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("CONDUIT_ENV", "testing")
        monkeypatch.setenv("DATABASE_URL", fresh_database_url)
        deployed = CliRunner().invoke(conduit_cli, ["deploy"])
        assert deployed.exit_code == 0, deployed.output
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.get_json()
        assert ready.get_json()["checks"] == {"database": "ok", "schema": "ok"}

        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_a_newer_release'"))
        ahead = schema_error()
        assert ahead.startswith("ahead: is ahead: the database is at 9999_from_a_newer_release, ")
        assert "an older release is running against a newer schema" in ahead
    finally:
        engine.dispose()
        get_db_of(application).dispose()
