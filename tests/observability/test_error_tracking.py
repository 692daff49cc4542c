"""Sentry is off without SENTRY_DSN, and with one an unhandled error reaches the server it names."""

from __future__ import annotations

import gzip
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sentry_sdk
from flask import Flask, request

from tests.support.databases import get_db_of, make_app


class Receiver(ThreadingHTTPServer):
    """A stand-in Sentry server on loopback: it keeps every envelope it is sent."""

    envelopes: list[bytes]


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.envelopes.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), Handler)
    server.envelopes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _no_client_left() -> Iterator[None]:
    yield
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def failing_app(database_url: str, **settings: Any) -> Flask:
    app = make_app(database_url, **settings)

    @app.get("/_boom")
    def boom() -> str:
        raise RuntimeError("boom for sentry")

    return app


def test_without_a_dsn_the_sdk_is_not_started(database_url: str) -> None:
    app = failing_app(database_url)
    response = app.test_client().get("/_boom")
    assert response.status_code == 500
    assert not sentry_sdk.get_client().is_active()
    get_db_of(app).dispose()


def test_without_a_dsn_the_sdk_is_not_even_imported(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [module for module in sys.modules if module.split(".")[0] == "sentry_sdk"]:
        monkeypatch.delitem(sys.modules, name)
    app = failing_app(database_url)
    assert app.test_client().get("/_boom").status_code == 500
    assert "sentry_sdk" not in sys.modules
    get_db_of(app).dispose()


def test_with_a_dsn_an_unhandled_error_reaches_sentry(database_url: str, receiver: Receiver) -> None:
    dsn = f"http://publickey@127.0.0.1:{receiver.server_address[1]}/1"
    app = failing_app(database_url, sentry_dsn=dsn)
    headers = {"X-Request-ID": "sentry-check-1", "Authorization": "Token secret-token-value"}
    response = app.test_client().get("/_boom", headers=headers)
    assert response.status_code == 500
    assert "sentry-check-1" in response.get_json()["errors"]["server"][0]
    sentry_sdk.flush(timeout=5)
    get_db_of(app).dispose()

    events = [
        json.loads(line)
        for envelope in receiver.envelopes
        for line in envelope.splitlines()
        if line.startswith(b"{") and b'"exception"' in line
    ]
    assert events, receiver.envelopes
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["tags"]["request_id"] == "sentry-check-1"
    assert event["environment"] == "testing"
    assert event["release"].startswith("conduit@")
    # no personal data: the token is filtered, and the client address is not sent
    assert "secret-token-value" not in json.dumps(event)
    assert event["request"]["headers"]["Authorization"] == "[Filtered]"
    assert "REMOTE_ADDR" not in event["request"].get("env", {})


# --- no secret leaves (issue 14, finding 4) ----------------------------------------------------

SECRETS = (
    "body-pass-1",
    "nested-tok-2",
    "client-secret-4",
    "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl",
)


def failing_json_app(database_url: str, dsn: str) -> Flask:
    app = make_app(database_url, sentry_dsn=dsn)

    @app.post("/_boom")
    def boom() -> str:
        body: Any = request.get_json()
        password = body["user"]["password"]  # a frame local, as LoginUser(password=...) was
        raise RuntimeError(f"boom after {len(password)} characters")

    return app


def test_a_500_sends_no_password_token_or_local_to_sentry(database_url: str, receiver: Receiver) -> None:
    app = failing_json_app(database_url, f"http://publickey@127.0.0.1:{receiver.server_address[1]}/1")
    body = {
        "user": {"email": "a@example.com", "password": "body-pass-1"},
        "items": [{"api_token": "nested-tok-2"}, {"note": "Token eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"}],
        "Client_Secret": "client-secret-4",
    }
    response = app.test_client().post("/_boom", json=body)
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    get_db_of(app).dispose()
    events = [
        line
        for envelope in receiver.envelopes
        for line in envelope.splitlines()
        if line.startswith(b"{") and b'"exception"' in line
    ]
    assert events, receiver.envelopes
    event = json.loads(events[0])
    text = json.dumps(event)
    for secret in SECRETS:
        assert secret not in text, secret
    assert "a@example.com" in text or "[Filtered]" in text  # the body is there, scrubbed
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    assert frames
    assert all("vars" not in frame for frame in frames)
