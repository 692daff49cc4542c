"""The number of SQL statements of a list does not grow with the page: no query per article or comment.
A page of articles is one statement with its ``articlesCount`` and the ids its filter names (subqueries),
plus the token's user lookup (no Redis here); an unknown name costs that one statement only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.accounts import Account, create_article, register

ARTICLES = 60
CountQueries = Callable[[], Any]


def statements_for(
    client: FlaskClient, count_queries: CountQueries, url: str, viewer: Account | None
) -> tuple[int, dict[str, Any]]:
    """How many statements one GET sends, and its body."""
    headers = viewer.headers if viewer else {}
    with count_queries() as statements:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return len(statements), response.get_json()


def assert_richly_loaded(articles: list[dict[str, Any]]) -> None:
    """The page carries what would tempt an N+1: tags, favourite counts, viewer flags."""
    assert all(article["tagList"] for article in articles)
    assert any(article["favoritesCount"] for article in articles)


@pytest.fixture
def crowd(client: FlaskClient) -> dict[str, Account]:
    """60 tagged articles by bob and carol, favourited by alice and carol; alice follows both authors."""
    accounts = {name: register(client, name) for name in ("alice", "bob", "carol")}
    alice, bob, carol = accounts["alice"], accounts["bob"], accounts["carol"]
    for follower, followee in ((alice, bob), (alice, carol), (bob, carol)):
        response = client.post(f"/api/profiles/{followee.username}/follow", headers=follower.headers)
        assert response.status_code == 200
    for number in range(ARTICLES):
        author = bob if number % 2 else carol
        slug = create_article(client, author, f"Article {number}", tags=[f"tag{number % 5}", "common"])[
            "slug"
        ]
        for fan, every in ((alice, 2), (carol, 3)):
            if number % every == 0:
                assert client.post(f"/api/articles/{slug}/favorite", headers=fan.headers).status_code == 200
    return accounts


@pytest.mark.parametrize(
    ("path", "viewer_name", "most"),
    [
        ("/api/articles", "alice", 2),
        ("/api/articles/feed", "alice", 2),
        ("/api/articles", None, 1),
        # A filter by name adds no statement: the names are subqueries of the page (unique indexes).
        ("/api/articles?tag=common", None, 1),
        ("/api/articles?author=bob", None, 1),
        ("/api/articles?tag=common&favorited=alice", "bob", 2),
    ],
)
def test_a_page_of_articles_costs_the_same_whatever_its_size(
    client: FlaskClient,
    count_queries: CountQueries,
    crowd: dict[str, Account],
    path: str,
    viewer_name: str | None,
    most: int,
) -> None:
    viewer = crowd[viewer_name] if viewer_name else None
    separator = "&" if "?" in path else "?"

    counts = {}
    pages = {}
    for limit in (1, 20, 100):
        counts[limit], pages[limit] = statements_for(
            client, count_queries, f"{path}{separator}limit={limit}", viewer
        )

    assert len(pages[1]["articles"]) == 1
    assert len(pages[100]["articles"]) == pages[100]["articlesCount"] > 20
    assert {page["articlesCount"] for page in pages.values()} == {pages[100]["articlesCount"]}
    assert_richly_loaded(pages[100]["articles"])
    assert counts[1] == counts[20] == counts[100]
    assert 1 <= counts[100] <= most


@pytest.mark.parametrize("viewer_name", ["alice", None])
def test_a_page_past_the_end_still_counts_the_articles(
    client: FlaskClient, count_queries: CountQueries, crowd: dict[str, Account], viewer_name: str | None
) -> None:
    viewer = crowd[viewer_name] if viewer_name else None

    count, page = statements_for(client, count_queries, "/api/articles?limit=20&offset=1000", viewer)

    assert page == {"articles": [], "articlesCount": ARTICLES}
    assert count <= 3


def test_the_viewer_flags_come_from_the_same_statements(
    client: FlaskClient, count_queries: CountQueries, crowd: dict[str, Account]
) -> None:
    count, page = statements_for(client, count_queries, "/api/articles?limit=50", crowd["alice"])

    assert count <= 2
    assert all(article["author"]["following"] for article in page["articles"])
    assert {article["favorited"] for article in page["articles"]} == {True, False}


@pytest.mark.parametrize("viewer_name", ["alice", None])
def test_comments_cost_the_same_whatever_their_number(
    client: FlaskClient, count_queries: CountQueries, crowd: dict[str, Account], viewer_name: str | None
) -> None:
    alice, bob = crowd["alice"], crowd["bob"]
    viewer = crowd[viewer_name] if viewer_name else None
    few = create_article(client, bob, "Few comments")["slug"]
    many = create_article(client, bob, "Many comments")["slug"]
    for slug, comments in ((few, 1), (many, 30)):
        for number in range(comments):
            author = alice if number % 2 else bob
            body = {"comment": {"body": f"Comment {number}"}}
            response = client.post(f"/api/articles/{slug}/comments", json=body, headers=author.headers)
            assert response.status_code == 201

    small, small_body = statements_for(client, count_queries, f"/api/articles/{few}/comments", viewer)
    large, large_body = statements_for(client, count_queries, f"/api/articles/{many}/comments", viewer)

    assert (len(small_body["comments"]), len(large_body["comments"])) == (1, 30)
    assert small == large
    assert 1 <= large <= (3 if viewer else 2)


@pytest.mark.parametrize(
    "query",
    [
        "favorited=nobody",
        "author=nobody",
        "tag=no-such-tag",
        "tag=common&author=nobody",
        "tag=no-such-tag&favorited=alice&author=bob",
    ],
)
def test_an_unknown_name_in_a_filter_costs_one_statement(
    client: FlaskClient, count_queries: CountQueries, crowd: dict[str, Account], query: str
) -> None:
    count, page = statements_for(client, count_queries, f"/api/articles?{query}&offset=20", None)

    assert page == {"articles": [], "articlesCount": 0}
    assert count == 1
