"""Article filters resolve through indexes on PostgreSQL (issue 14 finding 2): on a seeded table, no
statement of a filtered list scans a large table sequentially, an unknown name reads no article at all,
and a known one reads about as many articles as it matches, not every article."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.support.databases import get_db_of

ARTICLES = 10_000
USERS = 100
FANS = 5
TAGS = 100  # 100 articles a tag (1%); a popular tag is costlier: the matches are sorted by date
LARGE_TABLES = {"articles", "article_tags", "favorites", "follows", "comments"}

SEED = [
    f"""INSERT INTO users (id, username, email, password_hash, token_version, created_at, updated_at)
        SELECT g, 'user' || g, 'user' || g || '@example.test', 'x', 0, now(), now()
        FROM generate_series(1, {USERS}) g""",
    f"""INSERT INTO articles (id, slug, title, description, body, author_id, created_at, updated_at)
        SELECT g, 'article-' || g, 'Title', repeat('d', 200), repeat('b', 600), 1 + g % {USERS},
               now() - g * interval '1 minute', now() - g * interval '1 minute'
        FROM generate_series(1, {ARTICLES}) g""",
    f"INSERT INTO tags (id, name) SELECT g, 'tag' || g FROM generate_series(1, {TAGS}) g",
    "INSERT INTO article_tags (article_id, tag_id, created_at) "
    f"SELECT id, 1 + id % {TAGS}, created_at FROM articles",
    # A popular tag, on half the articles: its page must not read them all to sort them.
    f"INSERT INTO tags (id, name) VALUES ({TAGS + 1}, 'popular')",
    "INSERT INTO article_tags (article_id, tag_id, created_at) "
    f"SELECT id, {TAGS + 1}, created_at FROM articles WHERE id % 2 = 0",
    # Each article favourited by FANS users, so that each user favourited 5% of the articles: the
    # planner then expects a page of favourites to be found early while walking the date index, the
    # plan that walked every article for a user who does not exist.
    f"""INSERT INTO favorites (user_id, article_id, created_at)
        SELECT 1 + (id * 7 + fan) % {USERS}, id, now()
        FROM articles, generate_series(0, {FANS - 1}) fan""",
    "ANALYZE",
]


@pytest.fixture
def seeded(app: Flask) -> None:
    engine = get_db_of(app).engine
    if engine.dialect.name != "postgresql":
        pytest.skip("query plans are PostgreSQL's (the SQLite run has no planner statistics to test)")
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))  # a loaded machine
        for statement in SEED:
            conn.execute(sa.text(statement))


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def explained(app: Flask, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Every plan node of every statement, run again under EXPLAIN ANALYZE."""
    nodes: list[dict[str, Any]] = []
    with get_db_of(app).engine.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar()
            nodes += plan_nodes(plan[0]["Plan"])
    return nodes


def recorded(app: Flask, client: FlaskClient, url: str) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        statements.append((statement, parameters))

    engines = get_db_of(app).engines
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.get_json()
    return statements, response.get_json()


def articles_read(nodes: list[dict[str, Any]]) -> int:
    return sum(
        node["Actual Rows"] * node["Actual Loops"] + node.get("Rows Removed by Filter", 0)
        for node in nodes
        if node.get("Relation Name") == "articles"
    )


PER_USER = ARTICLES // USERS
PER_TAG = ARTICLES // TAGS


@pytest.mark.parametrize(
    ("query", "matches", "candidates"),
    [
        ("favorited=nobody", 0, 0),
        ("tag=no-such-tag", 0, 0),
        ("author=nobody", 0, 0),
        ("tag=tag3&favorited=nobody", 0, 0),
        ("favorited=user5", FANS * PER_USER, FANS * PER_USER),
        ("author=user5", PER_USER, PER_USER),
        ("tag=tag3", PER_TAG, PER_TAG),
        # half the articles: the page is a range of the tag's date index, 20 articles read
        ("tag=popular", ARTICLES // 2, 0),
        # the author's articles, none with that tag: read through the smaller of the two sets
        ("tag=tag3&author=user5", 0, PER_USER),
    ],
)
def test_filters_read_what_they_match_through_indexes(
    app: Flask, client: FlaskClient, seeded: None, query: str, matches: int, candidates: int
) -> None:
    statements, page = recorded(app, client, f"/api/articles?{query}&limit=20")
    nodes = explained(app, statements)

    assert page["articlesCount"] == matches
    sequential = {node.get("Relation Name") for node in nodes if node["Node Type"] == "Seq Scan"}
    assert not sequential & LARGE_TABLES, f"sequential scan of {sequential & LARGE_TABLES} for {query}"
    assert articles_read(nodes) <= 2 * candidates + 40, f"{articles_read(nodes)} articles read for {query}"
