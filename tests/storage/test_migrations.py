"""Migrations on fresh SQLite and PostgreSQL databases: up, down, up again; the schema matches the models;
the constraints that live in the database (case-insensitive unique e-mail, cascades) hold there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from conduit.models import Base
from conduit.settings import load_settings
from conduit.storage import migrations as migrate
from conduit.storage.database import make_engine
from tests.support.servers import REPO

MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[sa.Engine]:
    """The engine the app would use (on SQLite: foreign keys enforced, as in production)."""
    application_engine = make_engine(load_settings(conduit_env="testing", database_url=fresh_database_url))
    yield application_engine
    application_engine.dispose()


@pytest.fixture
def migrated(engine: sa.Engine) -> sa.Engine:
    migrate.upgrade(engine)
    return engine


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def schema_differences(engine: sa.Engine) -> list[Any]:
    """What autogenerate would change to make the database match the models."""
    with warnings.catch_warnings(), engine.connect() as conn:
        # SQLite cannot reflect the expression index on lower(email); it is checked separately below.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        context = MigrationContext.configure(conn, opts={"compare_type": _compare_type})
        return list(compare_metadata(context, Base.metadata))


def _compare_type(
    context: MigrationContext,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: sa.types.TypeEngine[Any],
    metadata_type: sa.types.TypeEngine[Any],
) -> bool | None:
    """Compare a TypeDecorator (UTCDateTime) by the type it stores; everything else the default way."""
    if isinstance(metadata_type, sa.types.TypeDecorator):
        impl = metadata_type.impl_instance
        return context.impl.compare_type(inspected_column, sa.Column(metadata_column.name, impl))
    return None


def email_index_definition(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_users_email_lower'"
        else:
            sql = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'uq_users_email_lower'"
        row = conn.execute(sa.text(sql)).first()
    assert row is not None, "the unique index on lower(email) does not exist"
    return str(row[0])


def insert_user(conn: sa.Connection, user_id: int, email: str) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) "
            "VALUES (:id, :username, :email, 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        {"id": user_id, "username": f"user{user_id}", "email": email},
    )


def scalar(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


# --- up, down, up ---------------------------------------------------------------------------------


def test_upgrade_downgrade_upgrade(engine: sa.Engine) -> None:
    head = migrate.head_revision(engine)
    assert head is not None
    assert migrate.current_revision(engine) is None

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == head
    assert tables(engine) == MODEL_TABLES | {"alembic_version"}

    migrate.downgrade(engine)
    assert migrate.current_revision(engine) is None
    assert tables(engine) == {"alembic_version"}
    if engine.dialect.name == "postgresql":
        assert sa.inspect(engine).get_sequence_names() == []
        leftover = scalar(engine, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
        assert leftover == 1  # alembic_version's primary key
    else:
        leftover = scalar(
            engine, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
        assert leftover == 0

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == head
    assert tables(engine) == MODEL_TABLES | {"alembic_version"}
    assert schema_differences(engine) == []


def test_upgrade_twice_is_harmless(migrated: sa.Engine) -> None:
    migrate.upgrade(migrated)
    assert migrate.current_revision(migrated) == migrate.head_revision(migrated)


def test_downgrade_keeps_no_data_behind(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        insert_user(conn, 1, "a@x.io")
    migrate.downgrade(migrated)
    migrate.upgrade(migrated)
    assert scalar(migrated, "SELECT count(*) FROM users") == 0


# --- the schema matches the models ----------------------------------------------------------------


def test_schema_matches_the_models(migrated: sa.Engine) -> None:
    differences = schema_differences(migrated)
    assert differences == [], "\n".join(str(difference) for difference in differences)


def test_every_model_table_index_and_column_exists(migrated: sa.Engine) -> None:
    inspector = sa.inspect(migrated)
    assert set(inspector.get_table_names()) >= MODEL_TABLES
    for table in Base.metadata.sorted_tables:
        columns = {column["name"]: column for column in inspector.get_columns(table.name)}
        for column in table.columns:
            assert column.name in columns, f"{table.name}.{column.name}"
            assert bool(columns[column.name]["nullable"]) == column.nullable, f"{table.name}.{column.name}"
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*expression-based index.*")
            existing = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if any(not isinstance(expression, sa.Column) for expression in index.expressions):
                continue  # expression indexes are checked on their own
            assert index.name in existing, f"{table.name}: index {index.name}"
        primary_key = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert set(primary_key) == {column.name for column in table.primary_key.columns}, table.name


def test_foreign_keys_cascade_as_declared(migrated: sa.Engine) -> None:
    inspector = sa.inspect(migrated)
    for table in Base.metadata.sorted_tables:
        reflected = {
            (tuple(fk["constrained_columns"]), fk["referred_table"]): (fk.get("options") or {}).get(
                "ondelete"
            )
            for fk in inspector.get_foreign_keys(table.name)
        }
        for fk in table.foreign_key_constraints:
            key = (tuple(column.name for column in fk.columns), fk.referred_table.name)
            assert key in reflected, f"{table.name}: {key}"
            assert (reflected[key] or "").upper() == (fk.ondelete or "").upper(), f"{table.name}: {key}"


# --- constraints enforced by the database ---------------------------------------------------------


def test_unique_case_insensitive_email_index(migrated: sa.Engine) -> None:
    definition = email_index_definition(migrated).lower()
    assert "unique" in definition
    assert "lower(" in definition
    assert "email" in definition

    with migrated.begin() as conn:
        insert_user(conn, 1, "a@x.io")
    with pytest.raises(sa.exc.IntegrityError), migrated.begin() as conn:
        insert_user(conn, 2, "A@x.io")
    with pytest.raises(sa.exc.IntegrityError), migrated.begin() as conn:
        insert_user(conn, 3, "a@x.io")
    with migrated.begin() as conn:
        insert_user(conn, 4, "b@x.io")
    assert scalar(migrated, "SELECT count(*) FROM users") == 2
    assert scalar(migrated, "SELECT email FROM users WHERE lower(email) = 'a@x.io'") == "a@x.io"


def test_unique_username_and_slug(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        insert_user(conn, 1, "a@x.io")
    with pytest.raises(sa.exc.IntegrityError), migrated.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) "
                "VALUES (2, 'user1', 'other@x.io', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    article = (
        "INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at) "
        "VALUES ('same-slug', 't', 'd', 'b', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    with migrated.begin() as conn:
        conn.execute(sa.text(article))
    with pytest.raises(sa.exc.IntegrityError), migrated.begin() as conn:
        conn.execute(sa.text(article))


def test_nobody_follows_themselves(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        insert_user(conn, 1, "a@x.io")
    with pytest.raises(sa.exc.IntegrityError), migrated.begin() as conn:
        conn.execute(sa.text("INSERT INTO follows VALUES (1, 1, CURRENT_TIMESTAMP)"))


def test_deleting_a_user_cascades(migrated: sa.Engine) -> None:
    now = "CURRENT_TIMESTAMP"
    with migrated.begin() as conn:
        insert_user(conn, 1, "alice@x.io")
        insert_user(conn, 2, "bob@x.io")
        for article_id, author_id in ((10, 1), (11, 2)):
            conn.execute(
                sa.text(
                    "INSERT INTO articles (id, slug, title, description, body, author_id, created_at, "
                    f"updated_at) VALUES (:id, :slug, 't', 'd', 'b', :author, {now}, {now})"
                ),
                {"id": article_id, "slug": f"slug-{article_id}", "author": author_id},
            )
        conn.execute(sa.text("INSERT INTO tags (id, name) VALUES (30, 'python')"))
        conn.execute(
            sa.text(
                "INSERT INTO article_tags (article_id, tag_id, created_at) "
                f"VALUES (10, 30, {now}), (11, 30, {now})"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO comments (id, body, article_id, author_id, created_at, updated_at) VALUES "
                f"(20, 'by alice on bob', 11, 1, {now}, {now}), "
                f"(21, 'by bob on alice', 10, 2, {now}, {now}), "
                f"(22, 'by bob on bob', 11, 2, {now}, {now})"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO follows (follower_id, followee_id, created_at) "
                f"VALUES (1, 2, {now}), (2, 1, {now})"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO favorites (user_id, article_id, created_at) "
                f"VALUES (1, 11, {now}), (2, 10, {now})"
            )
        )

    with migrated.begin() as conn:
        assert conn.execute(sa.text("DELETE FROM users WHERE id = 1")).rowcount == 1

    def ids(sql: str) -> list[Any]:
        with migrated.connect() as conn:
            return [tuple(row) if len(row) > 1 else row[0] for row in conn.execute(sa.text(sql))]

    assert ids("SELECT id FROM users") == [2]
    assert ids("SELECT id FROM articles") == [11]
    assert ids("SELECT id FROM comments ORDER BY id") == [22]
    assert ids("SELECT follower_id, followee_id FROM follows") == []
    assert ids("SELECT user_id, article_id FROM favorites") == []
    assert ids("SELECT article_id, tag_id FROM article_tags") == [(11, 30)]
    assert ids("SELECT id FROM tags") == [30]


def test_deleting_a_role_leaves_its_users_without_one(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO roles (id, name, \"default\", permissions) VALUES (5, 'Temp', false, 1)")
        )
        insert_user(conn, 1, "a@x.io")
        conn.execute(sa.text("UPDATE users SET role_id = 5 WHERE id = 1"))
    with migrated.begin() as conn:
        conn.execute(sa.text("DELETE FROM roles WHERE id = 5"))
    assert scalar(migrated, "SELECT count(*) FROM users") == 1
    assert scalar(migrated, "SELECT role_id FROM users WHERE id = 1") is None


def test_articles_need_an_existing_author(migrated: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), migrated.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at) "
                "VALUES ('s', 't', 'd', 'b', 999, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )


def insert_named_user(conn: sa.Connection, user_id: int, username: str) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) "
            "VALUES (:id, :username, :email, 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        {"id": user_id, "username": username, "email": f"u{user_id}@x.io"},
    )


def test_0005_backfills_username_skeletons_and_grandfathers_existing_lookalikes(engine: sa.Engine) -> None:
    """Issue 14, finding 11: accounts made before 0005 get their skeleton; of two that already look alike
    (Latin "alice", then Cyrillic "\u0430lice"), the older keeps it and the newer gets NULL."""
    migrate.upgrade(engine, "0003")
    with engine.begin() as conn:
        insert_named_user(conn, 1, "alice")
        insert_named_user(conn, 2, "\u0430lice")
        insert_named_user(conn, 3, "b\u043eb")  # Cyrillic o
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, username_skeleton FROM users ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [(1, "alice"), (2, None), (3, "bob")]
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # the index is unique
        conn.execute(sa.text("UPDATE users SET username_skeleton = 'alice' WHERE id = 3"))
    migrate.downgrade(engine, "0003")
    assert "username_skeleton" not in {column["name"] for column in sa.inspect(engine).get_columns("users")}
    assert scalar(engine, "SELECT count(*) FROM users") == 3


# --- the alembic command line ---------------------------------------------------------------------


def test_alembic_command_line_reads_the_conduit_settings(fresh_database_url: str, tmp_path: Path) -> None:
    """``alembic upgrade head`` from the repository takes the database from DATABASE_URL, not alembic.ini."""
    env = {**os.environ, "CONDUIT_ENV": "testing", "DATABASE_URL": fresh_database_url}
    env.pop("CONDUIT_CONFIG_FILE", None)
    for args in (["upgrade", "head"], ["current"], ["downgrade", "base"], ["upgrade", "head"]):
        completed = subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(REPO / "alembic.ini"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
    engine = sa.create_engine(fresh_database_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision(engine)
        assert tables(engine) == MODEL_TABLES | {"alembic_version"}
    finally:
        engine.dispose()


def test_0004_backfills_the_favourite_counts_and_tag_names(engine: sa.Engine) -> None:
    migrate.upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (id, username, email, password_hash, token_version, created_at,"
                " updated_at) VALUES (1, 'a', 'a@x.io', 'h', 0, :t, :t), (2, 'b', 'b@x.io', 'h', 0, :t, :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO articles (id, slug, title, description, body, author_id, created_at,"
                " updated_at) VALUES (1, 's1', 't', 'd', 'b', 1, :t, :t), (2, 's2', 't', 'd', 'b', 1, :t, :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
        conn.execute(sa.text("INSERT INTO tags (id, name) VALUES (1, 'zeta'), (2, 'alpha'), (3, 'ünï')"))
        conn.execute(sa.text("INSERT INTO article_tags (article_id, tag_id) VALUES (1, 1), (1, 2), (1, 3)"))
        conn.execute(
            sa.text("INSERT INTO favorites (user_id, article_id, created_at) VALUES (1, 1, :t), (2, 1, :t)"),
            {"t": "2026-01-01 00:00:00"},
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, favorites_count, tag_names FROM articles ORDER BY id")).all()
    assert [(row[0], row[1]) for row in rows] == [(1, 2), (2, 0)]
    assert json.loads(rows[0][2]) == ["alpha", "zeta", "ünï"]
    assert json.loads(rows[1][2]) == []
