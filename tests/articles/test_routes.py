"""Articles, lists, the feed and favourites (Hurl: articles, errors_articles, errors_authorization,
favorites, feed and pagination)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.accounts import Account, create_article, register
from tests.support.databases import get_db_of

BLANK = "can't be blank"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ARTICLE_KEYS = {
    "slug",
    "title",
    "description",
    "body",
    "tagList",
    "createdAt",
    "updatedAt",
    "favorited",
    "favoritesCount",
    "author",
}
NOT_FOUND = {"errors": {"article": ["not found"]}}
FORBIDDEN = {"errors": {"article": ["forbidden"]}}
MISSING: Any = object()


# --- helpers --------------------------------------------------------------------------------------------


def headers_of(viewer: Account | None) -> dict[str, str]:
    return viewer.headers if viewer else {}


def post_article(client: FlaskClient, account: Account, **fields: Any) -> TestResponse:
    """POST a valid article changed by *fields*; a field given as MISSING is left out."""
    article = {"title": "Hello", "description": "About it", "body": "The body", **fields}
    body = {"article": {name: value for name, value in article.items() if value is not MISSING}}
    return client.post("/api/articles", json=body, headers=account.headers)


def get_article(client: FlaskClient, slug: str, viewer: Account | None = None) -> TestResponse:
    return client.get(f"/api/articles/{slug}", headers=headers_of(viewer))


def fetch_article(client: FlaskClient, slug: str, viewer: Account | None = None) -> dict[str, Any]:
    response = get_article(client, slug, viewer)
    assert response.status_code == 200, response.get_json()
    article: dict[str, Any] = response.get_json()["article"]
    return article


def put_article(client: FlaskClient, account: Account, slug: str, **fields: Any) -> TestResponse:
    return client.put(f"/api/articles/{slug}", json={"article": fields}, headers=account.headers)


def updated(client: FlaskClient, account: Account, slug: str, **fields: Any) -> dict[str, Any]:
    response = put_article(client, account, slug, **fields)
    assert response.status_code == 200, response.get_json()
    article: dict[str, Any] = response.get_json()["article"]
    return article


def delete_article(client: FlaskClient, account: Account, slug: str) -> TestResponse:
    return client.delete(f"/api/articles/{slug}", headers=account.headers)


def favorite(client: FlaskClient, account: Account, slug: str) -> TestResponse:
    return client.post(f"/api/articles/{slug}/favorite", headers=account.headers)


def unfavorite(client: FlaskClient, account: Account, slug: str) -> TestResponse:
    return client.delete(f"/api/articles/{slug}/favorite", headers=account.headers)


def favorited(client: FlaskClient, account: Account, slug: str) -> dict[str, Any]:
    response = favorite(client, account, slug)
    assert response.status_code == 200, response.get_json()
    article: dict[str, Any] = response.get_json()["article"]
    return article


def follow(client: FlaskClient, follower: Account, followee: Account) -> None:
    response = client.post(f"/api/profiles/{followee.username}/follow", headers=follower.headers)
    assert response.status_code == 200, response.get_json()


def comment(client: FlaskClient, account: Account, slug: str, body: str = "Nice") -> None:
    response = client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": body}}, headers=account.headers
    )
    assert response.status_code == 201, response.get_json()


def list_response(
    client: FlaskClient, viewer: Account | None = None, path: str = "/api/articles", **params: Any
) -> TestResponse:
    return client.get(path, query_string=params, headers=headers_of(viewer))


def listing(client: FlaskClient, viewer: Account | None = None, **params: Any) -> dict[str, Any]:
    response = list_response(client, viewer, **params)
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def feed(client: FlaskClient, viewer: Account, **params: Any) -> dict[str, Any]:
    response = list_response(client, viewer, "/api/articles/feed", **params)
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def slugs(result: dict[str, Any]) -> list[str]:
    return [article["slug"] for article in result["articles"]]


def publish(client: FlaskClient, account: Account, count: int, prefix: str = "Post") -> list[str]:
    """*count* articles by *account*; their slugs, oldest first."""
    return [create_article(client, account, f"{prefix} {number}")["slug"] for number in range(count)]


def assert_response(response: TestResponse, status: int, body: Any) -> None:
    assert (response.status_code, response.get_json()) == (status, body)


def assert_field_error(response: TestResponse, field: str, message: str | None = None) -> None:
    """A 422 about *field* only (with *message*, when given)."""
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert list(errors) == [field]
    if message is not None:
        assert errors[field] == [message]


def row_count(app: Flask, table: str) -> int:
    with get_db_of(app).engine.connect() as conn:
        count: int = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    return count


@pytest.fixture
def carol(client: FlaskClient) -> Account:
    return register(client, "carol")


# --- create ---------------------------------------------------------------------------------------------


def test_create_returns_the_article(client: FlaskClient, alice: Account) -> None:
    response = post_article(client, alice, title="Hello World", tagList=["dragons", "angular"])

    assert response.status_code == 201
    article = response.get_json()["article"]
    assert set(article) == ARTICLE_KEYS
    assert {key: article[key] for key in ARTICLE_KEYS - {"createdAt", "updatedAt"}} == {
        "slug": "hello-world",
        "title": "Hello World",
        "description": "About it",
        "body": "The body",
        "tagList": ["angular", "dragons"],
        "favorited": False,
        "favoritesCount": 0,
        "author": {"username": "alice", "bio": None, "image": None, "following": False},
    }
    assert TIMESTAMP.match(article["createdAt"]), article["createdAt"]
    assert TIMESTAMP.match(article["updatedAt"]), article["updatedAt"]


def test_create_stores_what_get_returns(client: FlaskClient, alice: Account) -> None:
    created = create_article(client, alice, "Stored", tags=["x"])

    assert fetch_article(client, created["slug"]) == created


def test_create_without_tags_has_an_empty_tag_list(client: FlaskClient, alice: Account) -> None:
    assert create_article(client, alice)["tagList"] == []


def test_create_sorts_and_deduplicates_tags(client: FlaskClient, alice: Account) -> None:
    article = create_article(client, alice, tags=["zebra", "apple", "zebra", " mango ", "apple"])

    assert article["tagList"] == ["apple", "mango", "zebra"]
    assert fetch_article(client, article["slug"])["tagList"] == ["apple", "mango", "zebra"]


def test_slug_comes_from_the_title(client: FlaskClient, alice: Account) -> None:
    assert create_article(client, alice, "How to Train Your Dragon!")["slug"] == "how-to-train-your-dragon"


def test_duplicate_titles_get_distinct_slugs(client: FlaskClient, alice: Account, bob: Account) -> None:
    first = create_article(client, alice, "Same Title", description="first")
    second = create_article(client, bob, "Same Title", description="second")

    assert first["slug"] == "same-title"
    assert second["slug"] != first["slug"]
    assert second["slug"].startswith("same-title-")
    assert fetch_article(client, first["slug"])["description"] == "first"
    assert fetch_article(client, second["slug"])["description"] == "second"


def test_title_feed_does_not_shadow_the_feed_route(client: FlaskClient, alice: Account) -> None:
    article = create_article(client, alice, "Feed")

    assert article["slug"] != "feed"
    assert fetch_article(client, article["slug"])["title"] == "Feed"
    assert feed(client, alice) == {"articles": [], "articlesCount": 0}


@pytest.mark.parametrize("field", ["title", "description", "body"])
@pytest.mark.parametrize("value", ["", "   ", None, MISSING], ids=["empty", "spaces", "null", "missing"])
def test_create_requires_title_description_and_body(
    client: FlaskClient, alice: Account, field: str, value: Any
) -> None:
    assert_field_error(post_article(client, alice, **{field: value}), field, BLANK)
    assert listing(client)["articlesCount"] == 0


@pytest.mark.parametrize("tags", ["dragons", {"a": 1}, 3], ids=["string", "object", "number"])
def test_create_rejects_a_tag_list_that_is_not_a_list(client: FlaskClient, alice: Account, tags: Any) -> None:
    assert_field_error(post_article(client, alice, tagList=tags), "tagList", "must be an array")


def test_create_rejects_a_null_tag_list(client: FlaskClient, alice: Account) -> None:
    assert_field_error(post_article(client, alice, tagList=None), "tagList")


@pytest.mark.parametrize("tag", ["", "   ", None], ids=["empty", "spaces", "null"])
def test_create_rejects_a_blank_tag(client: FlaskClient, alice: Account, tag: Any) -> None:
    assert_field_error(post_article(client, alice, tagList=["ok", tag]), "tagList", BLANK)


def test_create_rejects_a_tag_that_is_not_a_string(client: FlaskClient, alice: Account) -> None:
    assert_field_error(post_article(client, alice, tagList=["ok", 7]), "tagList", "must be a string")


def test_create_accepts_20_tags_and_rejects_21(client: FlaskClient, alice: Account) -> None:
    tags = [f"tag{number:02d}" for number in range(21)]

    assert_field_error(
        post_article(client, alice, tagList=tags), "tagList", "is too long (maximum is 20 items)"
    )
    assert create_article(client, alice, tags=tags[:20])["tagList"] == tags[:20]


def test_create_rejects_a_title_that_is_too_long(client: FlaskClient, alice: Account) -> None:
    response = post_article(client, alice, title="t" * 256)
    assert_field_error(response, "title", "is too long (maximum is 255 characters)")


def test_create_requires_the_article_envelope(client: FlaskClient, alice: Account) -> None:
    response = client.post("/api/articles", json={"title": "Hello"}, headers=alice.headers)
    assert_field_error(response, "article", BLANK)


def test_create_needs_a_token(client: FlaskClient) -> None:
    response = client.post("/api/articles", json={"article": {"title": "t", "description": "d", "body": "b"}})
    assert_response(response, 401, {"errors": {"token": ["is missing"]}})


# --- get ------------------------------------------------------------------------------------------------


def test_get_an_article_without_auth(client: FlaskClient, alice: Account) -> None:
    created = create_article(client, alice, "Readable", tags=["t"])

    assert fetch_article(client, "readable") == created


def test_get_an_unknown_article_is_404(client: FlaskClient) -> None:
    assert_response(get_article(client, "no-such-article"), 404, NOT_FOUND)


# --- update ---------------------------------------------------------------------------------------------


def test_update_changes_only_the_fields_sent(client: FlaskClient, alice: Account) -> None:
    before = create_article(client, alice, "Original", tags=["keep", "me"])

    after = updated(client, alice, before["slug"], body="New body")

    assert after == {**before, "body": "New body", "updatedAt": after["updatedAt"]}
    assert fetch_article(client, before["slug"]) == after


@pytest.mark.parametrize("field", ["title", "description", "body"])
def test_update_changes_each_text_field(client: FlaskClient, alice: Account, field: str) -> None:
    slug = create_article(client, alice, "Original")["slug"]

    assert updated(client, alice, slug, **{field: "Changed"})[field] == "Changed"
    assert fetch_article(client, slug)[field] == "Changed"


def test_update_keeps_tags_when_tag_list_is_absent(client: FlaskClient, alice: Account) -> None:
    slug = create_article(client, alice, tags=["b", "a"])["slug"]

    assert updated(client, alice, slug, title="Other")["tagList"] == ["a", "b"]
    assert fetch_article(client, slug)["tagList"] == ["a", "b"]


def test_update_replaces_the_tags(client: FlaskClient, alice: Account) -> None:
    slug = create_article(client, alice, tags=["old", "kept"])["slug"]

    assert updated(client, alice, slug, tagList=["kept", "new", "new"])["tagList"] == ["kept", "new"]
    assert fetch_article(client, slug)["tagList"] == ["kept", "new"]


def test_update_with_an_empty_tag_list_removes_every_tag(client: FlaskClient, alice: Account) -> None:
    slug = create_article(client, alice, tags=["a", "b"])["slug"]

    assert updated(client, alice, slug, tagList=[])["tagList"] == []
    assert fetch_article(client, slug)["tagList"] == []


def test_update_rejects_a_null_tag_list(client: FlaskClient, alice: Account) -> None:
    slug = create_article(client, alice, tags=["a"])["slug"]

    assert_field_error(put_article(client, alice, slug, tagList=None), "tagList")
    assert fetch_article(client, slug)["tagList"] == ["a"]


@pytest.mark.parametrize("field", ["title", "description", "body"])
@pytest.mark.parametrize("value", ["", None], ids=["empty", "null"])
def test_update_rejects_blank_text_fields(
    client: FlaskClient, alice: Account, field: str, value: Any
) -> None:
    before = create_article(client, alice)

    assert_field_error(put_article(client, alice, before["slug"], **{field: value}), field, BLANK)
    assert fetch_article(client, before["slug"]) == before


def test_update_moves_updated_at_but_not_created_at(client: FlaskClient, alice: Account) -> None:
    before = create_article(client, alice)

    after = updated(client, alice, before["slug"], body="Again")

    assert after["createdAt"] == before["createdAt"]
    assert TIMESTAMP.match(after["updatedAt"])
    assert after["updatedAt"] > before["updatedAt"]
    assert updated(client, alice, before["slug"], body="And again")["updatedAt"] > after["updatedAt"]


def test_update_of_the_title_keeps_the_slug(client: FlaskClient, alice: Account) -> None:
    slug = create_article(client, alice, "First Title")["slug"]

    article = updated(client, alice, slug, title="Second Title")

    assert (article["slug"], article["title"]) == ("first-title", "Second Title")
    assert fetch_article(client, "first-title")["title"] == "Second Title"
    assert_response(get_article(client, "second-title"), 404, NOT_FOUND)


def test_update_of_another_users_article_is_403(client: FlaskClient, alice: Account, bob: Account) -> None:
    before = create_article(client, alice)

    assert_response(put_article(client, bob, before["slug"], body="hijacked"), 403, FORBIDDEN)
    assert fetch_article(client, before["slug"]) == before


def test_delete_of_another_users_article_is_403(client: FlaskClient, alice: Account, bob: Account) -> None:
    slug = create_article(client, alice)["slug"]

    assert_response(delete_article(client, bob, slug), 403, FORBIDDEN)
    assert get_article(client, slug).status_code == 200


def test_update_and_delete_of_an_unknown_article_are_404(client: FlaskClient, alice: Account) -> None:
    assert_response(put_article(client, alice, "nope", body="x"), 404, NOT_FOUND)
    assert_response(delete_article(client, alice, "nope"), 404, NOT_FOUND)


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_update_and_delete_need_a_token(client: FlaskClient, alice: Account, method: str) -> None:
    slug = create_article(client, alice)["slug"]

    response = client.open(f"/api/articles/{slug}", method=method, json={"article": {"body": "x"}})

    assert_response(response, 401, {"errors": {"token": ["is missing"]}})


# --- delete ---------------------------------------------------------------------------------------------


def test_delete_then_the_article_is_gone(client: FlaskClient, alice: Account) -> None:
    slug = create_article(client, alice)["slug"]

    response = delete_article(client, alice, slug)

    assert (response.status_code, response.data) == (204, b"")
    assert_response(get_article(client, slug), 404, NOT_FOUND)
    assert_response(delete_article(client, alice, slug), 404, NOT_FOUND)
    assert listing(client) == {"articles": [], "articlesCount": 0}


def test_delete_removes_comments_and_favourites(
    app: Flask, client: FlaskClient, alice: Account, bob: Account
) -> None:
    slug = create_article(client, alice, "Doomed")["slug"]
    kept = create_article(client, alice, "Kept")["slug"]
    for target in (slug, kept):
        favorited(client, bob, target)
        comment(client, bob, target)

    assert delete_article(client, alice, slug).status_code == 204

    assert slugs(listing(client, favorited="bob")) == [kept]
    assert listing(client, favorited="bob")["articlesCount"] == 1
    assert (row_count(app, "comments"), row_count(app, "favorites")) == (1, 1)
    assert_response(client.get(f"/api/articles/{slug}/comments"), 404, NOT_FOUND)
    recreated = create_article(client, alice, "Doomed")
    assert (recreated["slug"], recreated["favoritesCount"]) == (slug, 0)
    assert client.get(f"/api/articles/{slug}/comments").get_json() == {"comments": []}


# --- list -----------------------------------------------------------------------------------------------


def test_list_is_empty_at_first(client: FlaskClient) -> None:
    assert listing(client) == {"articles": [], "articlesCount": 0}


def test_list_is_newest_first(client: FlaskClient, alice: Account, bob: Account) -> None:
    first = create_article(client, alice, "One")["slug"]
    second = create_article(client, bob, "Two")["slug"]
    third = create_article(client, alice, "Three")["slug"]

    assert slugs(listing(client)) == [third, second, first]


def test_list_order_ignores_updates(client: FlaskClient, alice: Account) -> None:
    older, newer = publish(client, alice, 2)
    updated(client, alice, older, body="Edited")

    assert slugs(listing(client)) == [newer, older]


def test_list_items_have_no_body(client: FlaskClient, alice: Account) -> None:
    created = create_article(client, alice, tags=["t"])

    (item,) = listing(client)["articles"]

    assert set(item) == ARTICLE_KEYS - {"body"}
    assert item == {key: value for key, value in created.items() if key != "body"}


def test_list_by_tag(client: FlaskClient, alice: Account, bob: Account) -> None:
    tagged = create_article(client, alice, "A", tags=["python", "web"])["slug"]
    create_article(client, alice, "B", tags=["web"])
    other = create_article(client, bob, "C", tags=["python"])["slug"]

    result = listing(client, tag="python")

    assert (slugs(result), result["articlesCount"]) == ([other, tagged], 2)
    assert all("python" in article["tagList"] for article in result["articles"])
    assert listing(client, tag="nothing") == {"articles": [], "articlesCount": 0}


def test_list_by_author(client: FlaskClient, alice: Account, bob: Account) -> None:
    mine = publish(client, alice, 2, "Alice")
    create_article(client, bob, "Bob")

    result = listing(client, author="alice")

    assert (slugs(result), result["articlesCount"]) == (mine[::-1], 2)
    assert {article["author"]["username"] for article in result["articles"]} == {"alice"}
    assert listing(client, author="nobody") == {"articles": [], "articlesCount": 0}


def test_list_by_favorited(client: FlaskClient, alice: Account, bob: Account, carol: Account) -> None:
    liked, _, other = publish(client, alice, 3)
    favorited(client, bob, liked)
    favorited(client, carol, other)

    result = listing(client, favorited="bob")

    assert (slugs(result), result["articlesCount"]) == ([liked], 1)
    assert listing(client, favorited="alice") == {"articles": [], "articlesCount": 0}
    assert listing(client, favorited="nobody") == {"articles": [], "articlesCount": 0}


def test_list_filters_combine(client: FlaskClient, alice: Account, bob: Account, carol: Account) -> None:
    alice_py = create_article(client, alice, "Alice Py", tags=["python"])["slug"]
    create_article(client, alice, "Alice Js", tags=["js"])
    bob_py = create_article(client, bob, "Bob Py", tags=["python"])["slug"]
    for slug in (alice_py, bob_py):
        favorited(client, carol, slug)

    assert slugs(listing(client, tag="python", author="alice")) == [alice_py]
    assert slugs(listing(client, tag="python", favorited="carol")) == [bob_py, alice_py]
    assert slugs(listing(client, author="bob", favorited="carol")) == [bob_py]
    assert slugs(listing(client, tag="python", author="bob", favorited="carol")) == [bob_py]
    assert listing(client, tag="js", favorited="carol") == {"articles": [], "articlesCount": 0}


def test_articles_count_is_the_total_not_the_page_size(client: FlaskClient, alice: Account) -> None:
    publish(client, alice, 5)

    result = listing(client, limit=2)

    assert (len(result["articles"]), result["articlesCount"]) == (2, 5)


def test_limit_and_offset_page_through_the_list(client: FlaskClient, alice: Account) -> None:
    newest_first = publish(client, alice, 5)[::-1]

    pages = [listing(client, limit=2, offset=offset) for offset in (0, 2, 4)]

    assert [slugs(page) for page in pages] == [newest_first[0:2], newest_first[2:4], newest_first[4:]]
    assert {page["articlesCount"] for page in pages} == {5}


def test_limit_defaults_to_20(client: FlaskClient, alice: Account) -> None:
    newest_first = publish(client, alice, 21)[::-1]

    result = listing(client)

    assert (slugs(result), result["articlesCount"]) == (newest_first[:20], 21)
    assert slugs(listing(client, offset=20)) == newest_first[20:]


def test_limit_of_100_is_accepted(client: FlaskClient, alice: Account) -> None:
    publish(client, alice, 2)

    assert listing(client, limit=100)["articlesCount"] == 2


@pytest.mark.parametrize("path", ["/api/articles", "/api/articles/feed"])
@pytest.mark.parametrize(
    ("name", "value"),
    [("limit", 101), ("limit", 0), ("limit", -1), ("limit", "abc"), ("offset", -1), ("offset", "abc")],
)
def test_invalid_paging_is_422(client: FlaskClient, alice: Account, path: str, name: str, value: Any) -> None:
    assert_field_error(list_response(client, alice, path, **{name: value}), name)


def test_offset_beyond_the_end_is_an_empty_page_with_the_count(client: FlaskClient, alice: Account) -> None:
    publish(client, alice, 3)

    assert listing(client, offset=3) == {"articles": [], "articlesCount": 3}
    assert listing(client, offset=1000, limit=5) == {"articles": [], "articlesCount": 3}


def test_list_flags_depend_on_the_viewer(
    client: FlaskClient, alice: Account, bob: Account, carol: Account
) -> None:
    slug = create_article(client, bob, "Bob's")["slug"]
    follow(client, alice, bob)
    favorited(client, alice, slug)
    favorited(client, carol, slug)

    def flags(viewer: Account | None) -> tuple[bool, bool, int]:
        (article,) = listing(client, viewer)["articles"]
        single = fetch_article(client, slug, viewer)
        view = (article["favorited"], article["author"]["following"], article["favoritesCount"])
        assert view == (single["favorited"], single["author"]["following"], single["favoritesCount"])
        return view

    assert flags(alice) == (True, True, 2)
    assert flags(carol) == (True, False, 2)
    assert flags(bob) == (False, False, 2)
    assert flags(None) == (False, False, 2)


def test_list_with_an_invalid_token_is_401(client: FlaskClient) -> None:
    response = client.get("/api/articles", headers={"Authorization": "Token nonsense"})
    assert_response(response, 401, {"errors": {"token": ["is invalid"]}})


# --- feed -----------------------------------------------------------------------------------------------


def test_feed_needs_a_token(client: FlaskClient) -> None:
    assert_response(client.get("/api/articles/feed"), 401, {"errors": {"token": ["is missing"]}})


def test_feed_is_empty_when_following_nobody(client: FlaskClient, alice: Account, bob: Account) -> None:
    publish(client, bob, 2)

    assert feed(client, alice) == {"articles": [], "articlesCount": 0}


def test_feed_has_only_followed_authors_newest_first(
    client: FlaskClient, alice: Account, bob: Account, carol: Account
) -> None:
    bob_old = create_article(client, bob, "Bob old")["slug"]
    create_article(client, carol, "Carol")
    create_article(client, alice, "Alice")
    bob_new = create_article(client, bob, "Bob new")["slug"]
    follow(client, alice, bob)

    result = feed(client, alice)

    assert (slugs(result), result["articlesCount"]) == ([bob_new, bob_old], 2)
    assert all(article["author"]["following"] for article in result["articles"])
    assert all("body" not in article for article in result["articles"])


def test_feed_forgets_unfollowed_authors(client: FlaskClient, alice: Account, bob: Account) -> None:
    publish(client, bob, 1)
    follow(client, alice, bob)
    assert client.delete("/api/profiles/bob/follow", headers=alice.headers).status_code == 200

    assert feed(client, alice) == {"articles": [], "articlesCount": 0}


def test_feed_pages(client: FlaskClient, alice: Account, bob: Account, carol: Account) -> None:
    newest_first = publish(client, bob, 3, "Bob")[::-1]
    publish(client, carol, 2, "Carol")
    follow(client, alice, bob)

    pages = [feed(client, alice, limit=2, offset=offset) for offset in (0, 2, 4)]

    assert [slugs(page) for page in pages] == [newest_first[:2], newest_first[2:], []]
    assert {page["articlesCount"] for page in pages} == {3}


# --- favourites -----------------------------------------------------------------------------------------


def test_favorite_counts_each_user_once(client: FlaskClient, alice: Account, bob: Account) -> None:
    slug = create_article(client, alice)["slug"]

    first = favorited(client, bob, slug)
    again = favorited(client, bob, slug)
    by_alice = favorited(client, alice, slug)

    assert (first["favorited"], first["favoritesCount"]) == (True, 1)
    assert (again["favorited"], again["favoritesCount"]) == (True, 1)
    assert (by_alice["favorited"], by_alice["favoritesCount"]) == (True, 2)
    assert set(first) == ARTICLE_KEYS
    assert fetch_article(client, slug, bob)["favorited"] is True


def test_unfavorite_is_idempotent(client: FlaskClient, alice: Account, bob: Account) -> None:
    slug = create_article(client, alice)["slug"]
    favorited(client, alice, slug)
    favorited(client, bob, slug)

    for expected_count in (1, 1):
        response = unfavorite(client, bob, slug)
        assert response.status_code == 200
        article = response.get_json()["article"]
        assert (article["favorited"], article["favoritesCount"]) == (False, expected_count)
    assert fetch_article(client, slug, bob)["favorited"] is False
    assert fetch_article(client, slug, alice)["favorited"] is True


def test_favorite_of_an_unknown_article_is_404(client: FlaskClient, alice: Account) -> None:
    assert_response(favorite(client, alice, "nope"), 404, NOT_FOUND)
    assert_response(unfavorite(client, alice, "nope"), 404, NOT_FOUND)


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_favorite_needs_a_token(client: FlaskClient, alice: Account, method: str) -> None:
    slug = create_article(client, alice)["slug"]

    response = client.open(f"/api/articles/{slug}/favorite", method=method)

    assert_response(response, 401, {"errors": {"token": ["is missing"]}})
