"""Input no database column can hold is refused before it reaches SQL (issue 14, finding 3).

PostgreSQL refuses a NUL character in text and an integer above its column's range; SQLite accepts
both, which is why these requests were 500s on PostgreSQL only. Every test runs on both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from conduit.security import ALGORITHM, tokens
from conduit.storage.ids import MAX_ROW_ID
from tests.support.accounts import Account, create_article


def _assert_error(response: object, status: int) -> dict[str, list[str]]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))  # type: ignore[attr-defined]
    errors: dict[str, list[str]] = response.get_json()["errors"]  # type: ignore[attr-defined]
    assert errors
    return errors


@pytest.mark.parametrize(
    "path",
    [
        "/api/articles/a%00b",
        "/api/articles/a%00b/comments",
        "/api/profiles/al%00ice",
    ],
)
def test_nul_in_a_path_is_not_found(client: FlaskClient, alice: Account, path: str) -> None:
    _assert_error(client.get(path), 404)
    _assert_error(client.get(path, headers=alice.headers), 404)


def test_nul_in_a_path_of_a_write_is_not_found(client: FlaskClient, alice: Account) -> None:
    _assert_error(client.post("/api/articles/a%00b/favorite", headers=alice.headers), 404)
    _assert_error(client.post("/api/profiles/b%00b/follow", headers=alice.headers), 404)
    comment = {"comment": {"body": "hi"}}
    _assert_error(client.post("/api/articles/a%00b/comments", json=comment, headers=alice.headers), 404)


@pytest.mark.parametrize("name", ["tag", "author", "favorited"])
def test_nul_in_a_query_parameter_is_422(client: FlaskClient, alice: Account, name: str) -> None:
    errors = _assert_error(client.get(f"/api/articles?{name}=x%00y"), 422)
    assert name in errors
    _assert_error(client.get(f"/api/articles?{name}=x%00y", headers=alice.headers), 422)


def test_nul_in_a_query_parameter_name_is_422(client: FlaskClient) -> None:
    _assert_error(client.get("/api/articles?ta%00g=x"), 422)


def test_nul_in_body_strings_is_422(client: FlaskClient, alice: Account) -> None:
    registration = {"user": {"username": "eve\x00", "email": "eve@example.com", "password": "password123"}}
    assert "username" in _assert_error(client.post("/api/users", json=registration), 422)
    login = {"user": {"email": "alice@example.com", "password": "pass\x00word"}}
    assert "password" in _assert_error(client.post("/api/users/login", json=login), 422)
    article = {"article": {"title": "T", "description": "D", "body": "B", "tagList": ["a\x00"]}}
    assert "tagList" in _assert_error(client.post("/api/articles", json=article, headers=alice.headers), 422)
    slug = create_article(client, alice)["slug"]
    comment = {"comment": {"body": "x\x00y"}}
    response = client.post(f"/api/articles/{slug}/comments", json=comment, headers=alice.headers)
    assert "body" in _assert_error(response, 422)
    update = {"user": {"bio": "\x00"}}
    assert "bio" in _assert_error(client.put("/api/user", json=update, headers=alice.headers), 422)
    key_with_nul = {"user": {"email\x00": "x@example.com", "password": "password123"}}
    _assert_error(client.post("/api/users/login", json=key_with_nul), 422)


@pytest.mark.parametrize("comment_id", [MAX_ROW_ID + 1, 2**31, 2**63 - 1, 2**63, 10**30])
def test_comment_id_beyond_the_column_is_not_found(
    client: FlaskClient, alice: Account, comment_id: int
) -> None:
    slug = create_article(client, alice)["slug"]
    response = client.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=alice.headers)
    assert "comment" in _assert_error(response, 404)


def test_largest_comment_id_is_an_ordinary_miss(client: FlaskClient, alice: Account) -> None:
    slug = create_article(client, alice)["slug"]
    response = client.delete(f"/api/articles/{slug}/comments/{MAX_ROW_ID}", headers=alice.headers)
    assert "comment" in _assert_error(response, 404)


def _forged(app: Flask, subject: str) -> str:
    """A token signed with the app's own key: only its subject is out of range."""
    with app.app_context():
        signer = tokens()
    now = datetime.now(UTC)
    claims = {"sub": subject, "iss": signer.issuer, "iat": now, "exp": now + timedelta(minutes=5), "ver": 0}
    return jwt.encode(claims, signer.secret, algorithm=ALGORITHM)


@pytest.mark.parametrize("subject", [str(MAX_ROW_ID + 1), str(2**63), "9" * 40, "0"])
def test_signed_token_with_a_subject_beyond_the_column_is_401(
    app: Flask, client: FlaskClient, subject: str
) -> None:
    token = _forged(app, subject)
    assert "token" in _assert_error(client.get("/api/user", headers={"Authorization": f"Token {token}"}), 401)
    response = client.get("/api/articles", headers={"Authorization": f"Token {token}"})
    assert "token" in _assert_error(response, 401)
