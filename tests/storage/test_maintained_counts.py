"""The counts the triggers of migration 0006 keep (``row_counts``, ``tags.articles_count``) equal the rows
they count, whichever way the rows come and go, on SQLite and PostgreSQL: the API's writes, cascades,
multi-row statements, ``TRUNCATE``, concurrent writers that share tags, and the migration's backfill."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from conduit.settings import load_settings
from conduit.storage import migrations as migrate
from conduit.storage.database import make_engine
from tests.support.accounts import Account, create_article, register
from tests.support.databases import get_db_of

NOW = {"t": "2026-01-01 00:00:00"}


def counts(engine: sa.Engine) -> tuple[int, int, dict[str, int], dict[str, int]]:
    """(kept article count, actual, kept count per tag, actual per tag)."""
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT coalesce(sum(value), 0) FROM row_counts WHERE name = 'articles'"))
        actual = conn.execute(sa.text("SELECT count(*) FROM articles"))
        kept_tags = conn.execute(sa.text("SELECT name, articles_count FROM tags"))
        actual_tags = conn.execute(
            sa.text(
                "SELECT t.name, count(at.tag_id) FROM tags t "
                "LEFT JOIN article_tags at ON at.tag_id = t.id GROUP BY t.name"
            )
        )
        return (
            int(kept.scalar_one()),
            int(actual.scalar_one()),
            {str(name): int(n) for name, n in kept_tags},
            {str(name): int(n) for name, n in actual_tags},
        )


def assert_counts_hold(engine: sa.Engine) -> tuple[int, dict[str, int]]:
    kept, actual, kept_tags, actual_tags = counts(engine)
    assert kept == actual
    assert kept_tags == actual_tags
    return kept, kept_tags


def test_the_api_writes_keep_the_counts(
    app: Flask, client: FlaskClient, alice: Account, bob: Account
) -> None:
    engine = get_db_of(app).engine
    first = create_article(client, alice, "One", tags=["a", "b"])
    create_article(client, alice, "Two", tags=["b", "c"])
    create_article(client, bob, "Three", tags=["c"])
    assert assert_counts_hold(engine) == (3, {"a": 1, "b": 2, "c": 2})

    edited = client.put(
        f"/api/articles/{first['slug']}",
        json={"article": {"tagList": ["c", "d"]}},
        headers=alice.headers,
    )
    assert edited.status_code == 200, edited.get_json()
    assert assert_counts_hold(engine) == (3, {"a": 0, "b": 1, "c": 3, "d": 1})

    assert client.delete(f"/api/articles/{first['slug']}", headers=alice.headers).status_code in (200, 204)
    assert assert_counts_hold(engine) == (2, {"a": 0, "b": 1, "c": 2, "d": 0})

    listed = client.get("/api/articles").get_json()
    assert listed["articlesCount"] == 2
    assert client.get("/api/articles?tag=c").get_json()["articlesCount"] == 2
    assert client.get("/api/articles?tag=a&offset=5").get_json() == {"articles": [], "articlesCount": 0}
    assert client.get("/api/tags").get_json()["tags"] == ["b", "c"]


def test_a_users_deletion_cascades_into_the_counts(app: Flask, client: FlaskClient, alice: Account) -> None:
    engine = get_db_of(app).engine
    bob = register(client, "bob")
    create_article(client, alice, "Kept", tags=["x"])
    create_article(client, bob, "Gone", tags=["x", "y"])
    create_article(client, bob, "Gone too", tags=["y"])
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE username = 'bob'"))
    assert assert_counts_hold(engine) == (1, {"x": 1, "y": 0})
    assert client.get("/api/articles").get_json()["articlesCount"] == 1


def test_multi_row_statements_and_truncate_keep_the_counts(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    engine = get_db_of(app).engine
    create_article(client, alice, "Seed", tags=["t1"])
    with engine.begin() as conn:
        author = conn.execute(sa.text("SELECT id FROM users WHERE username = 'alice'")).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at) "
                "VALUES ('m1', 't', 'd', 'b', :a, :t, :t), ('m2', 't', 'd', 'b', :a, :t, :t), "
                "('m3', 't', 'd', 'b', :a, :t, :t)"
            ),
            {"a": author, **NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO article_tags (article_id, tag_id, created_at) "
                "SELECT a.id, t.id, a.created_at FROM articles a, tags t "
                "WHERE a.slug LIKE 'm%'"
            )
        )
    assert assert_counts_hold(engine) == (4, {"t1": 4})
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM articles WHERE slug IN ('m1', 'm2')"))
    assert assert_counts_hold(engine) == (2, {"t1": 2})
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE articles CASCADE"))
        assert assert_counts_hold(engine) == (0, {"t1": 0})
        create_article(client, alice, "After truncate", tags=["t1"])
        assert assert_counts_hold(engine) == (1, {"t1": 1})


def test_concurrent_writers_that_share_tags_neither_deadlock_nor_miscount(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    """Writers create, retag and delete articles with the same tags, in opposite orders, at once: every
    request succeeds and no change is lost (the triggers add in place, under the row's lock; on
    PostgreSQL every writer takes the ``articles`` count's row before any tag's, one lock order)."""
    engine = get_db_of(app).engine
    tags = ["red", "green", "blue", "amber"]
    failures: list[Any] = []

    def write(worker: int) -> None:
        own = app.test_client()
        order = tags if worker % 2 else list(reversed(tags))
        for round_ in range(6):
            created = own.post(
                "/api/articles",
                json={
                    "article": {
                        "title": f"w{worker} r{round_}",
                        "description": "d",
                        "body": "b",
                        "tagList": order,
                    }
                },
                headers=alice.headers,
            )
            if created.status_code != 201:
                failures.append(("create", created.status_code, created.get_json()))
                continue
            slug = created.get_json()["article"]["slug"]
            retagged = own.put(
                f"/api/articles/{slug}",
                json={"article": {"tagList": list(reversed(order[:2]))}},
                headers=alice.headers,
            )
            if retagged.status_code != 200:
                failures.append(("edit", retagged.status_code, retagged.get_json()))
            if round_ % 2:
                deleted = own.delete(f"/api/articles/{slug}", headers=alice.headers)
                if deleted.status_code not in (200, 204):
                    failures.append(("delete", deleted.status_code, deleted.get_json()))

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    kept, _ = assert_counts_hold(engine)
    assert kept == 4 * 3


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[sa.Engine]:
    application_engine = make_engine(load_settings(conduit_env="testing", database_url=fresh_database_url))
    yield application_engine
    application_engine.dispose()


def test_0006_backfills_the_counts_and_downgrades_cleanly(engine: sa.Engine) -> None:
    migrate.upgrade(engine, "0005")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (id, username, email, password_hash, token_version, created_at,"
                " updated_at) VALUES (1, 'a', 'a@x.io', 'h', 0, :t, :t)"
            ),
            NOW,
        )
        conn.execute(
            sa.text(
                "INSERT INTO articles (id, slug, title, description, body, author_id, created_at,"
                " updated_at) VALUES (1, 's1', 't', 'd', 'b', 1, :t, :t), (2, 's2', 't', 'd', 'b', 1, :t, :t)"
            ),
            NOW,
        )
        conn.execute(sa.text("INSERT INTO tags (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'unused')"))
        conn.execute(
            sa.text("INSERT INTO article_tags (article_id, tag_id) VALUES (1, 1), (2, 1), (2, 2)")
        )  # 0005
    migrate.upgrade(engine)
    assert assert_counts_hold(engine) == (2, {"one": 2, "two": 1, "unused": 0})
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM articles WHERE id = 2"))
    assert assert_counts_hold(engine) == (1, {"one": 1, "two": 0, "unused": 0})

    migrate.downgrade(engine, "0005")
    with engine.begin() as conn:  # no trigger left behind to write into a table that is gone
        conn.execute(sa.text("DELETE FROM articles"))
        assert "row_counts" not in sa.inspect(conn).get_table_names()
    migrate.upgrade(engine)
    assert assert_counts_hold(engine) == (0, {"one": 0, "two": 0, "unused": 0})
