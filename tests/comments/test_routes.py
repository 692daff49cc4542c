"""Comments on articles (Hurl: comments.hurl, errors_comments.hurl, errors_authorization.hurl)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.accounts import Account, create_article
from tests.support.databases import get_db_of, make_app

CountQueries = Callable[[], Any]

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ARTICLE_NOT_FOUND = {"errors": {"article": ["not found"]}}
COMMENT_NOT_FOUND = {"errors": {"comment": ["not found"]}}
MISSING_TOKEN = {"errors": {"token": ["is missing"]}}


def post_comment(client: FlaskClient, account: Account, slug: str, body: Any = "Nice post") -> TestResponse:
    return client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": body}}, headers=account.headers
    )


def add_comment(client: FlaskClient, account: Account, slug: str, body: str = "Nice post") -> dict[str, Any]:
    response = post_comment(client, account, slug, body)
    assert response.status_code == 201, response.get_json()
    comment: dict[str, Any] = response.get_json()["comment"]
    return comment


def get_comments(client: FlaskClient, slug: str, viewer: Account | None = None) -> TestResponse:
    return client.get(f"/api/articles/{slug}/comments", headers=viewer.headers if viewer else {})


def comments_of(client: FlaskClient, slug: str, viewer: Account | None = None) -> list[dict[str, Any]]:
    response = get_comments(client, slug, viewer)
    assert response.status_code == 200, response.get_json()
    comments: list[dict[str, Any]] = response.get_json()["comments"]
    return comments


def delete_comment(client: FlaskClient, account: Account, slug: str, comment_id: Any) -> TestResponse:
    return client.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=account.headers)


def assert_response(response: TestResponse, status: int, body: Any) -> None:
    assert (response.status_code, response.get_json()) == (status, body)


@pytest.fixture
def slug(client: FlaskClient, alice: Account) -> str:
    """An article by alice."""
    return str(create_article(client, alice, "Commented")["slug"])


def test_create_returns_the_comment(client: FlaskClient, bob: Account, slug: str) -> None:
    response = post_comment(client, bob, slug, "Thank you!")

    assert response.status_code == 201
    comment = response.get_json()["comment"]
    assert set(comment) == {"id", "createdAt", "updatedAt", "body", "author"}
    assert isinstance(comment["id"], int)
    assert comment["body"] == "Thank you!"
    assert comment["author"] == {"username": "bob", "bio": None, "image": None, "following": False}
    assert TIMESTAMP.match(comment["createdAt"]), comment["createdAt"]
    assert TIMESTAMP.match(comment["updatedAt"]), comment["updatedAt"]


def test_list_returns_the_comments_oldest_first(
    client: FlaskClient, alice: Account, bob: Account, slug: str
) -> None:
    created = [
        add_comment(client, author, slug, f"Comment {n}") for n, author in enumerate((bob, alice, bob))
    ]

    assert comments_of(client, slug, alice) == created


def test_list_without_auth(client: FlaskClient, bob: Account, slug: str) -> None:
    created = add_comment(client, bob, slug)

    assert comments_of(client, slug) == [created]


def test_list_is_empty_without_comments(client: FlaskClient, slug: str) -> None:
    assert comments_of(client, slug) == []


def test_a_page_past_the_end_is_empty_not_404(client: FlaskClient, bob: Account, slug: str) -> None:
    """The article's existence and its page come from one statement: no comment row still means 200."""
    add_comment(client, bob, slug)

    for viewer in (None, bob):
        response = client.get(
            f"/api/articles/{slug}/comments?offset=5", headers=viewer.headers if viewer else {}
        )
        assert_response(response, 200, {"comments": []})
        assert "Link" not in response.headers


def test_list_has_only_the_articles_comments(
    client: FlaskClient, alice: Account, bob: Account, slug: str
) -> None:
    other = create_article(client, alice, "Other")["slug"]
    mine = add_comment(client, bob, slug, "here")
    add_comment(client, bob, other, "there")

    assert comments_of(client, slug) == [mine]


def test_list_shows_whether_the_viewer_follows_each_author(
    client: FlaskClient, alice: Account, bob: Account, slug: str
) -> None:
    add_comment(client, bob, slug)
    assert client.post("/api/profiles/bob/follow", headers=alice.headers).status_code == 200

    assert comments_of(client, slug, alice)[0]["author"]["following"] is True
    assert comments_of(client, slug, bob)[0]["author"]["following"] is False
    assert comments_of(client, slug)[0]["author"]["following"] is False


def test_delete_own_comment(client: FlaskClient, bob: Account, slug: str) -> None:
    first = add_comment(client, bob, slug, "first")
    second = add_comment(client, bob, slug, "second")

    response = delete_comment(client, bob, slug, first["id"])

    assert (response.status_code, response.data) == (204, b"")
    assert comments_of(client, slug) == [second]
    assert_response(delete_comment(client, bob, slug, first["id"]), 404, COMMENT_NOT_FOUND)


def test_delete_another_users_comment_is_403(
    client: FlaskClient, alice: Account, bob: Account, slug: str
) -> None:
    created = add_comment(client, bob, slug)

    assert_response(
        delete_comment(client, alice, slug, created["id"]), 403, {"errors": {"comment": ["forbidden"]}}
    )
    assert comments_of(client, slug) == [created]


def test_unknown_article_is_404(client: FlaskClient, alice: Account) -> None:
    assert_response(get_comments(client, "nope"), 404, ARTICLE_NOT_FOUND)
    assert_response(get_comments(client, "nope", alice), 404, ARTICLE_NOT_FOUND)
    assert_response(post_comment(client, alice, "nope"), 404, ARTICLE_NOT_FOUND)
    assert_response(delete_comment(client, alice, "nope", 1), 404, ARTICLE_NOT_FOUND)


def test_delete_of_an_unknown_comment_is_404(client: FlaskClient, alice: Account, slug: str) -> None:
    assert_response(delete_comment(client, alice, slug, 99999), 404, COMMENT_NOT_FOUND)


def test_delete_through_another_article_is_404(client: FlaskClient, alice: Account, slug: str) -> None:
    other = create_article(client, alice, "Other")["slug"]
    created = add_comment(client, alice, other)

    assert_response(delete_comment(client, alice, slug, created["id"]), 404, COMMENT_NOT_FOUND)
    assert comments_of(client, other) == [created]


@pytest.mark.parametrize("body", ["", "   ", None], ids=["empty", "spaces", "null"])
def test_blank_body_is_422(client: FlaskClient, alice: Account, slug: str, body: Any) -> None:
    assert_response(post_comment(client, alice, slug, body), 422, {"errors": {"body": ["can't be blank"]}})
    assert comments_of(client, slug) == []


def test_missing_comment_envelope_is_422(client: FlaskClient, alice: Account, slug: str) -> None:
    response = client.post(f"/api/articles/{slug}/comments", json={"body": "hi"}, headers=alice.headers)
    assert_response(response, 422, {"errors": {"comment": ["can't be blank"]}})


@pytest.mark.parametrize("comment_id", ["abc", "1.5", "0", "-1"])
def test_comment_id_must_be_a_positive_integer(
    client: FlaskClient, alice: Account, slug: str, comment_id: str
) -> None:
    response = delete_comment(client, alice, slug, comment_id)

    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["id"]


def test_create_and_delete_need_a_token(client: FlaskClient, alice: Account, slug: str) -> None:
    created = add_comment(client, alice, slug)

    assert_response(
        client.post(f"/api/articles/{slug}/comments", json={"comment": {"body": "x"}}), 401, MISSING_TOKEN
    )
    assert_response(client.delete(f"/api/articles/{slug}/comments/{created['id']}"), 401, MISSING_TOKEN)
    assert comments_of(client, slug) == [created]


def test_token_is_checked_before_the_body(client: FlaskClient, slug: str) -> None:
    response = client.post(f"/api/articles/{slug}/comments", json={"comment": {"body": ""}})
    assert_response(response, 401, MISSING_TOKEN)


def bodies(response: TestResponse) -> list[str]:
    assert response.status_code == 200, response.get_json()
    assert list(response.get_json()) == ["comments"]  # the spec's shape, whatever the page
    return [comment["body"] for comment in response.get_json()["comments"]]


def test_comments_come_in_bounded_pages_linked_by_next(
    app: Flask, database_url: str, client: FlaskClient, bob: Account, slug: str
) -> None:
    """One response carries at most COMMENTS_PAGE_SIZE comments; ``Link: <...>; rel="next"`` walks on."""
    for number in range(5):
        add_comment(client, bob, slug, f"Comment {number}")
    assert len(comments_of(client, slug)) == 5  # under the default bound (100): every comment, no link
    assert "Link" not in get_comments(client, slug).headers

    small = make_app(database_url, comments_page_size=2)
    try:
        reader = small.test_client()
        seen: list[str] = []
        url: str | None = f"/api/articles/{slug}/comments"
        while url is not None:
            response = reader.get(url)
            seen += bodies(response)
            link = response.headers.get("Link")
            url = None if link is None else re.fullmatch(r'<(.+)>; rel="next"', link).group(1)  # type: ignore[union-attr]
        assert seen == [f"Comment {number}" for number in range(5)]
        with_token = reader.get(f"/api/articles/{slug}/comments?offset=2", headers=bob.headers)
        assert bodies(with_token) == ["Comment 2", "Comment 3"]
        next_page = f"/api/articles/{slug}/comments?limit=2&offset=4"
        assert with_token.headers["Link"] == f'<{next_page}>; rel="next"'
        last = reader.get(next_page, headers=bob.headers)
        assert (bodies(last), "Link" in last.headers) == (["Comment 4"], False)
        assert bodies(reader.get(f"/api/articles/{slug}/comments?limit=1&offset=3")) == ["Comment 3"]
        assert_response(
            reader.get(f"/api/articles/{slug}/comments?limit=3"),
            422,
            {"errors": {"limit": ["must be less than or equal to 2"]}},
        )
    finally:
        get_db_of(small).dispose()


def statements_of(
    client: FlaskClient, count_queries: CountQueries, url: str, viewer: Account | None, status: int
) -> int:
    with count_queries() as statements:
        response = client.get(url, headers=viewer.headers if viewer else {})
    assert response.status_code == status, (url, response.get_json())
    return len(statements)


@pytest.mark.parametrize("viewer_name", ["alice", None])
def test_a_page_is_one_statement_with_the_articles_existence(
    client: FlaskClient,
    count_queries: CountQueries,
    alice: Account,
    bob: Account,
    slug: str,
    viewer_name: str | None,
) -> None:
    """The article's lookup and its page are one statement, whether comments follow, the page is past
    the end or the article is unknown; a token adds only its own check (what a request refused before
    its view reads anything costs)."""
    viewer = alice if viewer_name else None
    for number in range(3):
        add_comment(client, bob, slug, f"Comment {number}")
    refused = f"/api/articles/{slug}/comments?limit=abc"
    token_check = statements_of(client, count_queries, refused, viewer, 422)
    for url, status in (
        (f"/api/articles/{slug}/comments", 200),
        (f"/api/articles/{slug}/comments?limit=2&offset=9", 200),
        ("/api/articles/nope/comments", 404),
    ):
        assert statements_of(client, count_queries, url, viewer, status) == token_check + 1, url
