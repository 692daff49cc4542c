"""Hostile and unusual input: text round-trips unchanged, secrets stay out of the logs, and bodies
that no database could store are refused with 422 rather than a 500."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from conduit.observability.logs import reset_logging
from tests.support.accounts import Account, register
from tests.support.databases import get_db_of, make_app, migrated_sqlite_url

SQL = "Robert'); DROP TABLE articles;-- \" OR 1=1 -- /* */ ; \\ %_ `x`"
TEXTS = {
    "unicode": "Ça marche: 日本語, العربية, עברית, Ελληνικά, ﬁ ligature, e\u0301 combining",
    "emoji": "🚀 👩‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 ❤️",
    "sql": SQL,
    "markup": "<script>alert(1)</script> &amp; {{7*7}} ${7*7}",
    "control": "tab\there\nnew line\r\nand a NUL-free end",
}


@pytest.mark.parametrize("name", TEXTS)
def test_text_round_trips_unchanged(client: FlaskClient, alice: Account, name: str) -> None:
    text = TEXTS[name]
    tag = f"{name} {' '.join(text[:20].split())}"  # tags refuse control characters such as tab
    article = {
        "title": f"T {text}",
        "description": text,
        "body": text,
        "tagList": [tag],
    }
    created = client.post("/api/articles", json={"article": article}, headers=alice.headers)
    assert created.status_code == 201, created.get_json()
    slug = created.get_json()["article"]["slug"]
    fetched = client.get(f"/api/articles/{slug}").get_json()["article"]
    assert (fetched["title"], fetched["description"], fetched["body"]) == (f"T {text}", text, text)
    assert fetched["tagList"] == [tag]

    comment = client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": text}}, headers=alice.headers
    )
    assert comment.status_code == 201
    listed = client.get(f"/api/articles/{slug}/comments").get_json()["comments"]
    assert [c["body"] for c in listed] == [text]

    updated = client.put("/api/user", json={"user": {"bio": text}}, headers=alice.headers)
    assert updated.get_json()["user"]["bio"] == text
    by_tag = client.get("/api/articles", query_string={"tag": tag}).get_json()
    assert [a["slug"] for a in by_tag["articles"]] == [slug]


def test_sql_metacharacters_in_names_and_filters(client: FlaskClient) -> None:
    account = register(client, "o_reilly-1.0", email="o'reilly+test@example.com", password=SQL)
    login = client.post("/api/users/login", json={"user": {"email": account.email, "password": SQL}})
    assert login.status_code == 200
    for query in ({"author": "x' OR '1'='1"}, {"tag": "%"}, {"favorited": "_"}, {"tag": "\\"}):
        response = client.get("/api/articles", query_string=query)
        assert response.status_code == 200
        assert response.get_json()["articlesCount"] == 0
    assert client.get("/api/profiles/x'%20OR%20'1'='1").status_code == 404


def test_long_strings_within_the_limits_round_trip(client: FlaskClient, alice: Account) -> None:
    body = "é🚀" * 50_000  # 100 000 characters (the limit), 300 000 bytes of UTF-8
    article = {
        "title": "t" * 255,
        "description": "d" * 1000,
        "body": body,
        "tagList": ["x" * 64],
    }
    created = client.post("/api/articles", json={"article": article}, headers=alice.headers)
    assert created.status_code == 201, created.get_json()
    fetched = client.get(f"/api/articles/{created.get_json()['article']['slug']}").get_json()["article"]
    assert (fetched["title"], fetched["body"], fetched["tagList"]) == ("t" * 255, body, ["x" * 64])
    too_long = client.post(
        "/api/articles", json={"article": {**article, "body": body + "x"}}, headers=alice.headers
    )
    assert too_long.status_code == 422


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"article": {"title": "a\\ud800b", "description": "d", "body": "b"}}', "lone surrogate"),
        (b'{"article": {"\\udfff": 1, "title": "t", "description": "d", "body": "b"}}', "lone surrogate"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested too deeply"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    ],
)
def test_bodies_no_database_could_store_are_422(
    client: FlaskClient, alice: Account, raw: bytes, message: str
) -> None:
    response = client.post(
        "/api/articles", data=raw, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert message in response.get_json()["errors"]["body"][0]


def test_a_surrogate_password_is_refused_not_a_server_error(client: FlaskClient) -> None:
    raw = b'{"user": {"email": "x@example.com", "password": "pass\\udbffword"}}'
    response = client.post("/api/users/login", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422


@pytest.fixture
def debug_app(tmp_path: Path) -> Iterator[Flask]:
    application = make_app(migrated_sqlite_url(tmp_path), log_level="DEBUG", log_dir=tmp_path / "logs")
    yield application
    get_db_of(application).dispose()
    reset_logging()


def test_secrets_never_reach_the_logs(
    debug_app: Flask, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = debug_app.test_client()
    password, new_password = "first-Secret-passw0rd", "second-Secret-passw0rd"
    account = register(client, "sam", password=password)
    login = client.post("/api/users/login", json={"user": {"email": account.email, "password": password}})
    token = login.get_json()["user"]["token"]
    wrong = client.post(
        "/api/users/login", json={"user": {"email": account.email, "password": "wrong-" + password}}
    )
    assert wrong.status_code == 401
    changed = client.put(
        "/api/user", json={"user": {"password": new_password}}, headers={"Authorization": f"Token {token}"}
    )
    assert changed.status_code == 200
    bad_token = client.get("/api/user", headers={"Authorization": f"Token {account.token}"})
    assert bad_token.status_code == 401  # revoked: the app had a reason to talk about it

    secrets = [password, new_password, "wrong-" + password, token, account.token]
    secrets += [part for value in (token, account.token) for part in value.split(".")[1:]]
    captured = [record.getMessage() for record in caplog.records]
    assert len(captured) >= 4  # the request lines at least: the capture works
    files = (tmp_path / "logs" / "conduit.log").read_text().splitlines()
    assert len(files) >= 4
    for line in captured + files:
        for secret in secrets:
            assert secret not in line, line
