"""Reads on PostgreSQL: under DB_READ_STATEMENT_TIMEOUT_MS (a few seconds), in autocommit, without
pre-ping (a read on a dropped connection runs again on a new one). Writes, the CLI and /readyz keep
DB_STATEMENT_TIMEOUT_MS; migrations run without any (tests/test_migrations.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import OperationalError

from conduit.storage import migrations as migrate
from conduit.storage.database import get_db, session
from tests.support.accounts import register
from tests.support.databases import get_db_of, make_app, postgres_database


@pytest.fixture
def pg_app(pg_server_url: str) -> Iterator[Flask]:
    with postgres_database(pg_server_url) as url:
        application = make_app(url, db_read_statement_timeout_ms=250, db_statement_timeout_ms=7000)
        yield application
        get_db_of(application).dispose()


def timeout_during(application: Flask, method: str) -> str:
    with application.test_request_context("/api/articles", method=method):
        return str(session().execute(sa.text("SHOW statement_timeout")).scalar_one())


def test_reads_get_the_short_timeout_and_writes_the_long_one(pg_app: Flask) -> None:
    assert timeout_during(pg_app, "GET") == "250ms"
    assert timeout_during(pg_app, "HEAD") == "250ms"
    assert timeout_during(pg_app, "POST") == "7s"
    assert timeout_during(pg_app, "DELETE") == "7s"
    with pg_app.app_context(), get_db().standalone_session() as cli:
        assert cli.execute(sa.text("SHOW statement_timeout")).scalar_one() == "7s"


def test_a_slow_read_is_cancelled_and_a_write_may_take_longer(pg_app: Flask) -> None:
    with (
        pg_app.test_request_context("/api/articles", method="GET"),
        pytest.raises(OperationalError, match="statement timeout"),
    ):
        session().execute(sa.text("SELECT pg_sleep(1)"))
    with pg_app.test_request_context("/api/articles", method="POST"):
        session().execute(sa.text("SELECT pg_sleep(1)"))


def test_reads_run_in_autocommit(pg_app: Flask) -> None:
    """No BEGIN before a read's first statement, so no ROLLBACK when its session closes."""
    with pg_app.test_request_context("/api/articles", method="GET"):
        state = session().execute(sa.text("SELECT now() = statement_timestamp()")).scalar_one()
    assert state is True  # in a transaction block, now() would be the transaction's start
    with pg_app.test_request_context("/api/articles", method="POST"):
        db = session()
        db.execute(sa.text("SELECT pg_sleep(0.01)"))
        assert db.execute(sa.text("SELECT now() = statement_timestamp()")).scalar_one() is False


def test_a_read_on_a_dropped_connection_runs_again_on_a_new_one(
    pg_app: Flask, pg_server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No pre-ping on reads: when PostgreSQL has dropped every connection (a restart, a failover), the
    next read's first statement fails and runs again on a new connection; the client sees a 200."""
    engine = get_db_of(pg_app).engine
    assert engine is not None
    migrate.upgrade(engine)
    client = pg_app.test_client()
    token = register(client, "alice").headers
    for _ in range(3):  # connections in both pools
        assert client.get("/api/articles", headers=token).status_code == 200
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": engine.url.database},
        ).scalar_one()
    admin.dispose()
    assert killed >= 1

    assert client.get("/api/articles", headers=token).status_code == 200
    assert client.get("/api/tags").status_code == 200
    assert "read retried on a new connection" in caplog.text
