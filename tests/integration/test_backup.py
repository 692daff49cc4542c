"""The runbook's backup: `pg_dump --format=custom`, restored with `pg_restore` into an empty database,
gives back every account and article."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from conduit.storage import migrations as migrate
from tests.support.accounts import Account, create_article, register
from tests.support.databases import get_db_of, make_app, postgres_database
from tests.support.skips import require_or_skip

pytestmark = pytest.mark.postgres


def libpq_url(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_a_dump_restores_into_an_empty_database(pg_server_url: str, tmp_path: Path) -> None:
    for tool in ("pg_dump", "pg_restore"):
        if not shutil.which(tool):
            require_or_skip(f"{tool} is not installed (apt-get install postgresql-client)")
    dump = tmp_path / "conduit.dump"
    with postgres_database(pg_server_url) as source, postgres_database(pg_server_url) as target:
        engine = sa.create_engine(source)
        migrate.upgrade(engine)
        engine.dispose()
        app = make_app(source)
        client = app.test_client()
        author: Account = register(client, "backed")
        slug = create_article(client, author, title="Kept safe", tags=["backup"])["slug"]
        get_db_of(app).dispose()

        subprocess.run(
            ["pg_dump", "--format=custom", f"--file={dump}", libpq_url(source)], check=True, timeout=60
        )
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq_url(target)}", str(dump)],
            check=True,
            timeout=60,
        )

        restored_app = make_app(target)
        restored = restored_app.test_client()
        article = restored.get(f"/api/articles/{slug}").get_json()["article"]
        login = {"user": {"email": author.email, "password": author.password}}
        logged_in = restored.post("/api/users/login", json=login).status_code
        get_db_of(restored_app).dispose()
    assert article["title"] == "Kept safe"
    assert article["tagList"] == ["backup"]
    assert logged_in == 200
