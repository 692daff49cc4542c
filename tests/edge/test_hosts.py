"""The Host header cannot steer a redirect, and only the trusted hosts are answered (issue 14, finding 9)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.databases import get_db_of, make_app


def test_a_slash_redirect_stays_on_the_site_whatever_the_host(database_url: str) -> None:
    application = make_app(database_url, trusted_hosts=[])  # any host, as production behind nginx
    try:
        client = application.test_client()
        response = client.get("/api//tags?x=1", headers={"Host": "evil.example"})
        assert response.status_code == 308
        assert response.headers["Location"] == "/api/tags?x=1"
    finally:
        get_db_of(application).dispose()


@pytest.fixture
def pinned(database_url: str) -> Iterator[Flask]:
    application = make_app(database_url, trusted_hosts=["conduit.example.com"])
    yield application
    get_db_of(application).dispose()


def test_an_untrusted_host_is_a_400_in_the_json_shape(pinned: Flask) -> None:
    client = pinned.test_client()
    for path in ("/api/tags", "/api//tags", "/healthz", "/nowhere"):
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 400, path
        assert response.get_json() == {"errors": {"host": ["is not served here"]}}
        assert "Location" not in response.headers
    assert client.get("/api/tags", headers={"Host": "conduit.example.com"}).status_code == 200
    assert client.get("/api/tags", headers={"Host": "conduit.example.com:8443"}).status_code == 200


def test_the_testing_profile_answers_loopback_names_only(app: Flask, client: FlaskClient) -> None:
    assert client.get("/api/tags").status_code == 200  # the test client's Host: localhost
    assert client.get("/api/tags", headers={"Host": "127.0.0.1:5000"}).status_code == 200
    assert client.get("/api/tags", headers={"Host": "evil.example"}).status_code == 400
