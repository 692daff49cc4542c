"""The anonymous first page of GET /api/articles (unfiltered or by one tag) cached in a real Redis: served
from the cache without a statement, and never stale after a write that changes what it shows. Each test
has a key prefix of its own (conftest's ``keys``) and deletes its keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from conduit.storage import shared_state
from tests.support.accounts import Account, create_article, register
from tests.support.databases import get_db_of, make_app


@pytest.fixture
def app(database_url: str, redis_url: str, keys: tuple[redis.Redis, str]) -> Iterator[Flask]:
    """Overrides conftest's app: this one caches in Redis under the test's own prefix."""
    application = make_app(database_url, redis_url=redis_url, redis_key_prefix=keys[1])
    yield application
    state = application.extensions.get(shared_state.EXTENSION)
    if state is not None:
        state.close()
    get_db_of(application).dispose()


def statements_of(
    app: Flask, count_queries: Callable[[], Any], client: FlaskClient, url: str
) -> tuple[int, Any]:
    with count_queries() as seen:
        response = client.get(url)
    assert response.status_code == 200, response.get_json()
    return len(seen), response.get_json()


def test_an_anonymous_first_page_is_served_from_redis(
    app: Flask, client: FlaskClient, count_queries: Callable[[], Any], alice: Account
) -> None:
    create_article(client, alice, "Cached", tags=["t"])
    for url in ("/api/articles", "/api/articles?limit=5", "/api/articles?tag=t"):
        first_count, first = statements_of(app, count_queries, client, url)
        again_count, again = statements_of(app, count_queries, client, url)
        assert first_count == 1, url
        assert again_count == 0, url
        assert again == first
    # Not cached: a viewer (favorited/following are theirs), a later page, other filters.
    for url, headers in [
        ("/api/articles", alice.headers),
        ("/api/articles?offset=1", {}),
        ("/api/articles?author=alice", {}),
        ("/api/articles?favorited=alice", {}),
    ]:
        for _ in range(2):
            with count_queries() as seen:
                assert client.get(url, headers=headers).status_code == 200
            assert len(seen) >= 1, url


def test_every_write_that_changes_a_page_shows_at_once(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    bob = register(client, "bob")

    def page(url: str = "/api/articles") -> dict[str, Any]:
        body: dict[str, Any] = client.get(url).get_json()
        return body

    slug = create_article(client, alice, "First", tags=["t"])["slug"]
    assert page()["articlesCount"] == 1
    assert page("/api/articles?tag=t")["articlesCount"] == 1

    create_article(client, alice, "Second", tags=["u"])
    assert [a["title"] for a in page()["articles"]] == ["Second", "First"]

    assert (
        client.put(
            f"/api/articles/{slug}", json={"article": {"title": "Renamed"}}, headers=alice.headers
        ).status_code
        == 200
    )
    assert page()["articles"][1]["title"] == "Renamed"

    assert client.post(f"/api/articles/{slug}/favorite", headers=bob.headers).status_code == 200
    assert page()["articles"][1]["favoritesCount"] == 1
    assert page()["articles"][1]["favorited"] is False  # anonymous: nobody's favourite
    assert client.delete(f"/api/articles/{slug}/favorite", headers=bob.headers).status_code == 200
    assert page()["articles"][1]["favoritesCount"] == 0

    assert (
        client.put("/api/user", json={"user": {"bio": "new bio"}}, headers=alice.headers).status_code == 200
    )
    assert page()["articles"][0]["author"]["bio"] == "new bio"
    renamed = client.put("/api/user", json={"user": {"username": "alice2"}}, headers=alice.headers)
    assert renamed.status_code == 200
    assert page()["articles"][0]["author"]["username"] == "alice2"

    assert client.delete(f"/api/articles/{slug}", headers=alice.headers).status_code in (200, 204)
    assert page()["articlesCount"] == 1
    assert page("/api/articles?tag=t") == {"articles": [], "articlesCount": 0}


def test_list_cache_seconds_zero_and_no_redis_read_the_database(
    database_url: str,
    redis_url: str,
    keys: tuple[redis.Redis, str],
    count_queries: Callable[[], Any],
    alice: Account,
    client: FlaskClient,
) -> None:
    create_article(client, alice, "Plain")
    for overrides in ({"redis_url": redis_url, "redis_key_prefix": keys[1], "list_cache_seconds": 0}, {}):
        other = make_app(database_url, **overrides)
        try:
            reader = other.test_client()
            for _ in range(2):
                assert reader.get("/api/articles").get_json()["articlesCount"] == 1
        finally:
            state = other.extensions.get(shared_state.EXTENSION)
            if state is not None:
                state.close()
            get_db_of(other).dispose()
    assert not [key for key in keys[0].scan_iter(keys[1] + "article-lists:*") if not key.endswith(b":gen")]
