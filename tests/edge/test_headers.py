"""Security headers on every kind of response, the docs page without inline script, and CORS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from conduit.edge.headers import API_POLICY, DOCS_POLICY, UI_POLICY
from conduit.settings import ConfigError, load_settings
from tests.support.accounts import Account
from tests.support.databases import get_db_of, make_app, migrated_sqlite_url

ALLOWED = "https://app.example.com"


@pytest.mark.parametrize(
    ("method", "path", "status", "policy"),
    [
        ("GET", "/api/tags", 200, API_POLICY),
        ("GET", "/api/user", 401, API_POLICY),
        ("GET", "/api/nowhere", 404, API_POLICY),
        ("DELETE", "/api/tags", 405, API_POLICY),
        ("GET", "/healthz", 200, API_POLICY),
        ("GET", "/api/openapi.json", 200, API_POLICY),
        ("GET", "/api/docs", 302, DOCS_POLICY),
        ("GET", "/api/docs/swagger", 200, DOCS_POLICY),
        ("GET", "/api/docs/swagger-init.js", 200, DOCS_POLICY),
    ],
)
def test_every_response_carries_the_security_headers(
    client: FlaskClient, method: str, path: str, status: int, policy: str
) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == policy
    assert "frame-ancestors 'none'" in policy


def test_html_pages_get_the_web_ui_policy(client: FlaskClient) -> None:
    page = client.get("/login")
    if page.status_code == 404:
        pytest.skip("the web UI is not built into static/ (bin/build-frontend.py)")
    assert page.mimetype == "text/html"
    assert page.headers["Content-Security-Policy"] == UI_POLICY


def test_the_docs_page_runs_no_inline_script(client: FlaskClient) -> None:
    page = client.get("/api/docs/swagger").get_data(as_text=True)
    scripts = page.count("<script")
    assert scripts == page.count("<script src=") == 3
    assert "<style" not in page
    assert 'data-openapi-url="' in page
    init = client.get("/api/docs/swagger-init.js")
    assert init.mimetype == "text/javascript"
    assert b"SwaggerUIBundle" in init.data
    assert client.get("/api/docs/swagger/js/swagger-ui-bundle.js").status_code == 200


@pytest.fixture
def cors_app(tmp_path: Path) -> Iterator[Flask]:
    application = make_app(migrated_sqlite_url(tmp_path), cors_origins=[ALLOWED, "http://localhost:5173"])
    yield application
    get_db_of(application).dispose()


def preflight(client: FlaskClient, origin: str, path: str = "/api/articles") -> object:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_cors_is_off_without_origins(client: FlaskClient) -> None:
    response = client.get("/api/tags", headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in response.headers
    answer = preflight(client, ALLOWED)
    assert "Access-Control-Allow-Origin" not in answer.headers  # type: ignore[attr-defined]


def test_a_preflight_from_an_allowed_origin(cors_app: Flask) -> None:
    response = preflight(cors_app.test_client(), ALLOWED)
    assert response.status_code == 204  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["Access-Control-Allow-Origin"] == ALLOWED
    assert set(headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST", "PUT", "DELETE"}
    assert {"Authorization", "Content-Type"} <= set(headers["Access-Control-Allow-Headers"].split(", "))
    assert "Access-Control-Allow-Credentials" not in headers
    assert "Origin" in headers["Vary"]


def test_a_preflight_from_another_origin_is_refused(cors_app: Flask) -> None:
    response = preflight(cors_app.test_client(), "https://evil.example.net")
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert "Access-Control-Allow-Origin" not in response.headers  # type: ignore[attr-defined]
    assert response.get_json() == {"errors": {"origin": ["is not allowed to call this API"]}}  # type: ignore[attr-defined]


def test_cors_requests_echo_only_allowed_origins(cors_app: Flask) -> None:
    client = cors_app.test_client()
    allowed = client.get("/api/tags", headers={"Origin": "https://APP.example.com"})
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Retry-After" in allowed.headers["Access-Control-Expose-Headers"]
    assert "Origin" in allowed.headers["Vary"]
    other = client.get("/api/tags", headers={"Origin": "https://app.example.com.evil.net"})
    assert other.status_code == 200
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Origin" not in client.get("/healthz", headers={"Origin": ALLOWED}).headers


def test_an_authenticated_cross_origin_call(cors_app: Flask) -> None:
    client = cors_app.test_client()
    body = {"user": {"username": "zed", "email": "zed@example.com", "password": "password123"}}
    created = client.post("/api/users", json=body, headers={"Origin": ALLOWED})
    assert created.status_code == 201
    account = Account("zed", "zed@example.com", "password123", created.get_json()["user"]["token"])
    me = client.get("/api/user", headers={**account.headers, "Origin": ALLOWED})
    assert me.status_code == 200
    assert me.headers["Access-Control-Allow-Origin"] == ALLOWED


@pytest.mark.parametrize("origin", ["*", "https://*.example.com", "app.example.com", "https://a.example/x"])
def test_cors_origins_must_be_exact_origins(origin: str) -> None:
    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        load_settings(conduit_env="testing", cors_origins=[origin])


def test_each_security_header_once_and_a_views_own_value_kept() -> None:
    from flask import Response

    from conduit.edge import headers

    app = Flask(__name__)
    headers.init_app(app)

    @app.get("/own")
    def own() -> Response:
        response = Response("{}", mimetype="application/json")
        response.headers["x-frame-options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = "default-src 'self'"
        return response

    @app.get("/plain")
    def plain() -> Response:
        return Response("<p>hi</p>", mimetype="text/html")

    client = app.test_client()
    kept = client.get("/own").headers
    assert kept.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert kept.getlist("Content-Security-Policy") == ["default-src 'self'"]
    assert kept.getlist("X-Content-Type-Options") == ["nosniff"]
    assert kept.getlist("Referrer-Policy") == ["no-referrer"]
    added = client.get("/plain").headers
    for name, value in [*headers.HEADERS.items(), ("Content-Security-Policy", UI_POLICY)]:
        assert added.getlist(name) == [value]
