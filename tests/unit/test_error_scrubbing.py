"""No secret leaves in an error report or a logged SQL error (issue 14, finding 4)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sentry_sdk
import sqlalchemy as sa
from flask import Flask, request

from conduit.observability.scrubbing import FILTERED, scrub
from conduit.settings import load_settings
from conduit.storage.database import make_engine
from tests.conftest import get_db_of, make_app
from tests.unit.test_error_tracking import Receiver, _no_client_left, receiver  # noqa: F401

SECRETS = (
    "body-pass-1",
    "nested-tok-2",
    "client-secret-4",
    "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl",
)


def failing_app(database_url: str, dsn: str) -> Flask:
    app = make_app(database_url, sentry_dsn=dsn)

    @app.post("/_boom")
    def boom() -> str:
        body: Any = request.get_json()
        password = body["user"]["password"]  # a frame local, as LoginUser(password=...) was
        raise RuntimeError(f"boom after {len(password)} characters")

    return app


def test_a_500_sends_no_password_token_or_local_to_sentry(database_url: str, receiver: Receiver) -> None:  # noqa: F811
    app = failing_app(database_url, f"http://publickey@127.0.0.1:{receiver.server_address[1]}/1")
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


def test_scrub_walks_every_depth() -> None:
    event = {"a": [{"b": {"Password": "x", "ok": "y"}}], "authorization": {"c": 1}, "t": ("eyJa.eyJb.sig",)}
    assert scrub(event) == {
        "a": [{"b": {"Password": FILTERED, "ok": "y"}}],
        "authorization": FILTERED,
        "t": [FILTERED],
    }


@pytest.mark.parametrize("profile", ["production", "testing"])
def test_sql_errors_hide_their_parameters_outside_development(database_url: str, profile: str) -> None:
    overrides: dict[str, Any] = {"database_url": database_url}
    if profile == "production":
        overrides["secret_key"] = "k3Vq9xZp2LmN7rT4wY8bC1dF6gH0jS5aQeUiOoPlMnBvCxZa"
    engine = make_engine(load_settings(conduit_env=profile, **overrides))
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as caught:
            conn.execute(sa.text("SELECT * FROM no_such_table WHERE hash = :h"), {"h": "$argon2id$hash-1"})
    finally:
        engine.dispose()
    message = str(caught.value)
    assert "$argon2id$hash-1" not in message
    assert "hidden due to hide_parameters" in message


def test_development_shows_parameters(database_url: str) -> None:
    engine = make_engine(load_settings(conduit_env="development", database_url=database_url))
    try:
        assert not engine.hide_parameters
    finally:
        engine.dispose()
