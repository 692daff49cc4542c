"""Every failure leaves as JSON in the RealWorld shape ``{"errors": {key: [message, ...]}}``, never HTML."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from conduit.security import Tokens
from conduit.storage.database import get_db
from conduit.users.models import User
from tests.support.accounts import Account
from tests.support.databases import make_app

UNREACHABLE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/x"
HEX32 = re.compile(r"^[0-9a-f]{32}$")

MakeApp = Callable[..., Flask]


@pytest.fixture
def fresh_app() -> Iterator[MakeApp]:
    """``fresh_app(url, **overrides)``: an app of our own, its engine disposed afterwards."""
    made: list[Flask] = []

    def build(url: str, **overrides: Any) -> Flask:
        application = make_app(url, **overrides)
        made.append(application)
        return application

    yield build
    for application in made:
        with application.app_context():
            get_db().dispose()


@pytest.fixture
def unreachable_client(fresh_app: MakeApp) -> FlaskClient:
    return fresh_app(UNREACHABLE_DB, db_connect_timeout=1).test_client()


def assert_json(response: TestResponse) -> None:
    assert response.mimetype == "application/json", (
        response.status_code,
        response.get_data(as_text=True)[:200],
    )
    assert "<html" not in response.get_data(as_text=True).lower()


def error_body(response: TestResponse, status: int) -> dict[str, list[str]]:
    """The ``errors`` object of a JSON error response with *status*; checks the RealWorld shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert_json(response)
    body = response.get_json()
    assert set(body) == {"errors"}
    errors: dict[str, list[str]] = body["errors"]
    assert errors
    for key, messages in errors.items():
        assert isinstance(key, str)
        assert isinstance(messages, list)
        assert messages
        assert all(isinstance(message, str) and message for message in messages)
    return errors


# --- routing --------------------------------------------------------------------------------------


# A path outside the API is the web UI, and its 404 page when the UI has no such route
# (tests/browser/test_assets.py); the API's unknown routes are JSON 404s.
@pytest.mark.parametrize("path", ["/api/nope", "/api/articles/a/b/c/d", "/api/", "/api"])
def test_unknown_route_is_a_json_404(client: FlaskClient, path: str) -> None:
    errors = error_body(client.get(path), 404)
    assert list(errors) == ["route"]
    assert path in errors["route"][0]


def test_unknown_route_with_any_method(client: FlaskClient) -> None:
    for method in ("GET", "DELETE", "PUT"):
        errors = error_body(client.open("/api/unknown", method=method), 404)
        assert method in errors["route"][0]


def test_unknown_route_is_a_404_whatever_the_body(client: FlaskClient) -> None:
    response = client.post("/api/unknown", data="{not json", content_type="application/json")
    assert "route" in error_body(response, 404)


def test_head_of_unknown_api_route_has_no_html(client: FlaskClient) -> None:
    response = client.head("/api/nope")
    assert response.status_code == 404
    assert response.mimetype == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/tags", {"GET"}),
        ("POST", "/api/tags", {"GET"}),
        ("DELETE", "/api/user", {"GET", "PUT"}),
        ("GET", "/api/users/login", {"POST"}),
        ("PATCH", "/api/articles/some-slug", {"GET", "PUT", "DELETE"}),
    ],
)
def test_wrong_method_is_a_json_405_with_allow(
    client: FlaskClient, method: str, path: str, allowed: set[str]
) -> None:
    response = client.open(path, method=method)
    errors = error_body(response, 405)
    assert list(errors) == ["method"]
    assert method in errors["method"][0]
    allow = {part.strip() for part in response.headers["Allow"].split(",")}
    assert allowed <= allow
    assert method not in allow


# --- request bodies -------------------------------------------------------------------------------


def test_body_over_the_limit_is_a_json_413(database_url: str, fresh_app: MakeApp) -> None:
    client = fresh_app(database_url, max_content_length=2048).test_client()
    body = '{"user": {"username": "' + "x" * 4000 + '", "email": "a@b.io", "password": "password123"}}'
    errors = error_body(client.post("/api/users", data=body, content_type="application/json"), 413)
    assert list(errors) == ["body"]
    assert "2048" in errors["body"][0]


def test_body_at_the_limit_is_accepted(database_url: str, fresh_app: MakeApp) -> None:
    client = fresh_app(database_url, max_content_length=2048).test_client()
    body = '{"user": {"username": "carol", "email": "carol@example.com", "password": "password123"}}'
    body = body + " " * (2048 - len(body))
    response = client.post("/api/users", data=body, content_type="application/json")
    # Not rejected for its size: it proceeds to registration (201, or 409 if carol exists already).
    assert response.status_code in (201, 409), response.get_json()
    assert_json(response)


def post_chunked(client: FlaskClient, body: bytes) -> TestResponse:
    """A body sent with ``Transfer-Encoding: chunked`` (no Content-Length), as a WSGI server delivers it."""
    return client.post(
        "/api/users",
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_chunked_body_over_the_limit_is_a_json_413(database_url: str, fresh_app: MakeApp) -> None:
    """Without a Content-Length Werkzeug stops reading at the limit: the view must not see a cut body."""
    client = fresh_app(database_url, max_content_length=2048).test_client()
    user = {"username": "padme", "email": "padme@example.com", "password": "password123"}
    body = json.dumps({"user": user, "padding": "a" * 5000}).encode()
    errors = error_body(post_chunked(client, body), 413)
    assert list(errors) == ["body"]


def test_chunked_body_within_the_limit_is_accepted(database_url: str, fresh_app: MakeApp) -> None:
    client = fresh_app(database_url, max_content_length=2048).test_client()
    user = {"username": "quinn", "email": "quinn@example.com", "password": "password123"}
    body = json.dumps({"user": user}).encode()
    body += b" " * (2048 - len(body))  # exactly at the limit
    response = post_chunked(client, body)
    assert response.status_code in (201, 409), response.get_json()


@pytest.mark.parametrize(
    "body",
    ["{bad", '{"user": }', '{"user": {"email": "a@b.io"}', "{'user': {}}", '{"user": {}} trailing', "nul"],
)
def test_malformed_json_is_a_422(client: FlaskClient, body: str) -> None:
    errors = error_body(client.post("/api/users", data=body, content_type="application/json"), 422)
    assert list(errors) == ["body"]
    assert "JSON" in errors["body"][0]


def test_malformed_json_on_login_and_articles(client: FlaskClient, alice: Account) -> None:
    login = client.post("/api/users/login", data="{", content_type="application/json")
    assert "JSON" in error_body(login, 422)["body"][0]
    article = client.post("/api/articles", data="[1,", content_type="application/json", headers=alice.headers)
    assert "JSON" in error_body(article, 422)["body"][0]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", '{"user": {"email": "a@b.io", "password": "password123"}}'),
        ("application/x-www-form-urlencoded", "user=alice&password=password123"),
        ("multipart/form-data; boundary=xyz", "--xyz\r\n\r\n--xyz--\r\n"),
        ("application/xml", "<user/>"),
    ],
)
def test_wrong_content_type_is_a_422(client: FlaskClient, content_type: str, body: str) -> None:
    response = client.post("/api/users/login", data=body, content_type=content_type)
    errors = error_body(response, 422)
    assert list(errors) == ["body"]
    assert "application/json" in errors["body"][0]


def test_form_post_is_a_422(client: FlaskClient) -> None:
    response = client.post("/api/users", data={"username": "x", "email": "x@y.io", "password": "password123"})
    assert "JSON" in error_body(response, 422)["body"][0]


def test_json_with_a_charset_is_accepted(client: FlaskClient) -> None:
    body = '{"user": {"username": "dan", "email": "dan@example.com", "password": "password123"}}'
    response = client.post("/api/users", data=body, content_type="application/json; charset=utf-8")
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    "send",
    [
        {},
        {"data": "", "content_type": "application/json"},
        {"data": "", "content_type": "text/plain"},
    ],
    ids=["no-body", "empty-json", "empty-text"],
)
def test_empty_body_is_a_422(client: FlaskClient, send: dict[str, Any]) -> None:
    error_body(client.post("/api/users", **send), 422)


@pytest.mark.parametrize("body", ["[]", '[{"user": {}}]', '"user"', "42", "null", "true"])
def test_json_that_is_not_an_object_is_a_422(client: FlaskClient, body: str) -> None:
    errors = error_body(client.post("/api/users", data=body, content_type="application/json"), 422)
    assert "body" in errors or "user" in errors


def test_wrapper_that_is_not_an_object_is_a_422(client: FlaskClient) -> None:
    errors = error_body(client.post("/api/users", json={"user": ["alice"]}), 422)
    assert errors == {"user": ["must be an object"]}


# --- unexpected errors ----------------------------------------------------------------------------


def test_unexpected_exception_is_a_json_500_with_the_request_id(
    database_url: str, fresh_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    application = fresh_app(database_url)

    @application.get("/boom")
    def boom() -> dict[str, str]:
        raise RuntimeError("kaboom: internal detail 0xdeadbeef")

    caplog.set_level(logging.ERROR, logger="conduit")
    response = application.test_client().get("/boom", headers={"X-Request-ID": "req-500-check"})
    errors = error_body(response, 500)
    text = response.get_data(as_text=True)
    assert "req-500-check" in " ".join(errors[next(iter(errors))])
    assert response.headers["X-Request-ID"] == "req-500-check"
    for leak in ("Traceback", "kaboom", "deadbeef", "RuntimeError", 'File "', ".py"):
        assert leak not in text
    assert "Traceback" in caplog.text
    assert "RuntimeError: kaboom" in caplog.text
    assert any(record.exc_info and record.exc_info[0] is RuntimeError for record in caplog.records)


def test_unexpected_exception_in_a_real_endpoint(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> list[str]:
        raise ZeroDivisionError("tag query exploded")

    monkeypatch.setattr("conduit.tags.routes.used_tags", broken)
    caplog.set_level(logging.ERROR, logger="conduit")
    response = client.get("/api/tags")
    errors = error_body(response, 500)
    request_id = response.headers["X-Request-ID"]
    assert HEX32.match(request_id)
    assert any(request_id in message for messages in errors.values() for message in messages)
    assert "exploded" not in response.get_data(as_text=True)
    assert "ZeroDivisionError: tag query exploded" in caplog.text


def test_app_still_serves_after_an_unexpected_error(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr("conduit.tags.routes.used_tags", lambda *args: 1 / 0)
        assert client.get("/api/tags").status_code == 500
    response = client.get("/api/tags")
    assert response.status_code == 200
    assert response.get_json() == {"tags": []}


# --- request ids ----------------------------------------------------------------------------------


def test_request_id_is_echoed(client: FlaskClient) -> None:
    for request_id in ("abc-123", "4f1c2f0e-0b7a-4d0e-9a57-2f2f3c9f7a10", "lb.node-1:42_x"):
        response = client.get("/api/tags", headers={"X-Request-ID": request_id})
        assert response.status_code == 200
        assert response.headers["X-Request-ID"] == request_id


def test_request_id_is_generated_when_absent(client: FlaskClient) -> None:
    first = client.get("/api/tags").headers["X-Request-ID"]
    second = client.get("/api/tags").headers["X-Request-ID"]
    assert HEX32.match(first)
    assert HEX32.match(second)
    assert first != second


@pytest.mark.parametrize("bad", ["has spaces", "x" * 129, "<script>", "a\tb", "naïve"])
def test_unsafe_request_id_is_replaced(client: FlaskClient, bad: str) -> None:
    response = client.get("/api/tags", headers={"X-Request-ID": bad})
    assert HEX32.match(response.headers["X-Request-ID"])


def test_request_id_on_error_responses(client: FlaskClient) -> None:
    assert client.get("/nope", headers={"X-Request-ID": "rid-404"}).headers["X-Request-ID"] == "rid-404"
    bad_json = client.post(
        "/api/users", data="{", content_type="application/json", headers={"X-Request-ID": "rid-422"}
    )
    assert bad_json.status_code == 422
    assert bad_json.headers["X-Request-ID"] == "rid-422"
    assert HEX32.match(client.delete("/api/tags").headers["X-Request-ID"])


# --- database unavailable -------------------------------------------------------------------------


def assert_database_unavailable(response: TestResponse) -> None:
    errors = error_body(response, 503)
    assert list(errors) == ["database"]
    assert int(response.headers["Retry-After"]) > 0
    text = response.get_data(as_text=True)
    assert "psycopg" not in text
    assert "127.0.0.1" not in text


def test_unreachable_database_is_a_json_503(unreachable_client: FlaskClient) -> None:
    assert_database_unavailable(unreachable_client.get("/api/tags"))
    assert_database_unavailable(unreachable_client.get("/api/articles"))
    assert_database_unavailable(unreachable_client.get("/api/profiles/alice"))


def test_unreachable_database_on_writes(unreachable_client: FlaskClient) -> None:
    login = {"user": {"email": "alice@example.com", "password": "password123"}}
    assert_database_unavailable(unreachable_client.post("/api/users/login", json=login))
    new_user = {"user": {"username": "carol", "email": "carol@example.com", "password": "password123"}}
    assert_database_unavailable(unreachable_client.post("/api/users", json=new_user))


def test_unreachable_database_with_a_valid_token(fresh_app: MakeApp) -> None:
    application = fresh_app(UNREACHABLE_DB, db_connect_timeout=1)
    token = Tokens(application.extensions["conduit.settings"]).issue(User(id=1))
    response = application.test_client().get("/api/user", headers={"Authorization": f"Token {token}"})
    assert_database_unavailable(response)


def test_unreachable_database_still_answers_client_errors(unreachable_client: FlaskClient) -> None:
    error_body(unreachable_client.get("/api/nope"), 404)
    assert unreachable_client.get("/nope").status_code == 404  # the UI's 404 page needs no database
    error_body(unreachable_client.get("/api/user"), 401)
    error_body(unreachable_client.post("/api/users", data="{", content_type="application/json"), 422)
