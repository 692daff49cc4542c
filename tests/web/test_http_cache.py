"""ETag/304 on article and profile reads, Cache-Control on the tag list."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.accounts import create_article, register


def test_an_unchanged_article_is_not_sent_again(client: FlaskClient) -> None:
    author = register(client, "alice")
    slug = create_article(client, author, "Cached", tags=["http"])["slug"]

    first = client.get(f"/api/articles/{slug}")
    again = client.get(f"/api/articles/{slug}", headers={"If-None-Match": first.headers["ETag"]})

    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-cache"
    assert "Authorization" in first.headers["Vary"]
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]


def test_a_changed_article_gets_a_new_etag(client: FlaskClient) -> None:
    author = register(client, "alice")
    slug = create_article(client, author, "Cached")["slug"]
    old = client.get(f"/api/articles/{slug}").headers["ETag"]
    body = {"article": {"body": "Something new"}}
    assert client.put(f"/api/articles/{slug}", json=body, headers=author.headers).status_code == 200

    response = client.get(f"/api/articles/{slug}", headers={"If-None-Match": old})

    assert response.status_code == 200
    assert response.get_json()["article"]["body"] == "Something new"
    assert response.headers["ETag"] != old


def test_what_the_viewer_sees_is_private_and_follows_their_favourites(client: FlaskClient) -> None:
    author, reader = register(client, "alice"), register(client, "bob")
    slug = create_article(client, author, "Cached")["slug"]
    before = client.get(f"/api/articles/{slug}", headers=reader.headers)
    assert client.post(f"/api/articles/{slug}/favorite", headers=reader.headers).status_code == 200

    after = client.get(
        f"/api/articles/{slug}", headers={**reader.headers, "If-None-Match": before.headers["ETag"]}
    )

    assert before.headers["Cache-Control"] == "private, no-cache"
    assert after.status_code == 200
    assert after.get_json()["article"]["favorited"] is True


def test_profiles_revalidate_and_change_with_a_follow(client: FlaskClient) -> None:
    register(client, "alice")
    bob = register(client, "bob")
    first = client.get("/api/profiles/alice", headers=bob.headers)
    same = client.get("/api/profiles/alice", headers={**bob.headers, "If-None-Match": first.headers["ETag"]})
    assert client.post("/api/profiles/alice/follow", headers=bob.headers).status_code == 200

    followed = client.get(
        "/api/profiles/alice", headers={**bob.headers, "If-None-Match": first.headers["ETag"]}
    )

    assert same.status_code == 304
    assert followed.status_code == 200
    assert followed.get_json()["profile"]["following"] is True


def test_the_tag_list_may_be_reused_for_a_while(client: FlaskClient) -> None:
    create_article(client, register(client, "alice"), "Tagged", tags=["http"])

    first = client.get("/api/tags")
    again = client.get("/api/tags", headers={"If-None-Match": first.headers["ETag"]})

    assert first.headers["Cache-Control"] == "public, max-age=30"
    assert first.get_json() == {"tags": ["http"]}
    assert again.status_code == 304


def test_a_missing_article_is_still_a_404(client: FlaskClient) -> None:
    response = client.get("/api/articles/nothing-here", headers={"If-None-Match": '"x"'})

    assert response.status_code == 404
