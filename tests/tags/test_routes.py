"""GET /api/tags (Hurl: tags.hurl)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.support.accounts import Account, create_article, register
from tests.support.databases import get_db_of, make_app


def tags(client: FlaskClient) -> list[str]:
    response = client.get("/api/tags")
    assert response.status_code == 200, response.get_json()
    names: list[str] = response.get_json()["tags"]
    return names


def test_no_tags_at_first(client: FlaskClient) -> None:
    assert client.get("/api/tags").get_json() == {"tags": []}


def test_tags_are_sorted_and_listed_once(client: FlaskClient, alice: Account, bob: Account) -> None:
    create_article(client, alice, "One", tags=["python", "flask"])
    create_article(client, bob, "Two", tags=["django", "python"])

    assert tags(client) == ["django", "flask", "python"]


def test_tags_ignore_the_authorization_header(client: FlaskClient, alice: Account) -> None:
    create_article(client, alice, tags=["x"])

    response = client.get("/api/tags", headers={"Authorization": "Token not-a-token"})

    assert response.get_json() == {"tags": ["x"]}


def test_tags_of_a_deleted_article_disappear(client: FlaskClient, alice: Account) -> None:
    doomed = create_article(client, alice, "Doomed", tags=["only-here", "shared"])["slug"]
    create_article(client, alice, "Kept", tags=["shared"])

    assert client.delete(f"/api/articles/{doomed}", headers=alice.headers).status_code == 204

    assert tags(client) == ["shared"]


def test_tags_removed_from_an_article_disappear(client: FlaskClient, alice: Account) -> None:
    slug = create_article(client, alice, tags=["old", "kept"])["slug"]

    response = client.put(
        f"/api/articles/{slug}", json={"article": {"tagList": ["kept", "new"]}}, headers=alice.headers
    )

    assert response.status_code == 200
    assert tags(client) == ["kept", "new"]


def test_only_the_most_used_tags_are_shown(app: Flask, database_url: str, client: FlaskClient) -> None:
    """A response does not grow with every distinct tag: TAGS_SHOWN of the most used, sorted."""
    alice = register(client, "alice")
    for number in range(3):
        create_article(client, alice, f"Popular {number}", tags=["popular", f"rare{number}"])
    create_article(client, alice, "Second", tags=["second", "popular"])
    create_article(client, alice, "Second again", tags=["second"])
    assert len(tags(client)) == 5  # TAGS_SHOWN is 50 by default

    two = make_app(database_url, tags_shown=2)
    try:
        assert tags(two.test_client()) == ["popular", "second"]
    finally:
        get_db_of(two).dispose()
