"""The OpenAPI document describes every operation of the RealWorld specification, and the docs page loads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
import yaml
from flask.testing import FlaskClient

from harness.realworld import RealWorldMissingError, realworld_file
from tests.support.skips import require_or_skip

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def load_spec() -> dict[str, Any]:
    try:
        spec_file = realworld_file("openapi.yml")
    except RealWorldMissingError as missing:
        require_or_skip(str(missing))
    spec: dict[str, Any] = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    return spec


def spec_operations() -> list[tuple[str, str]]:
    try:
        spec = yaml.safe_load(realworld_file("openapi.yml").read_text(encoding="utf-8"))
    except RealWorldMissingError:
        return [("<missing spec>", "get")]
    return [(path, method) for path, item in spec["paths"].items() for method in item if method in METHODS]


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def path_parameters(path: str) -> set[str]:
    return set(re.findall(r"{([^}]+)}", path))


def test_document_is_openapi_3_1(document: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"]
    assert document["info"]["version"]
    assert document["paths"]


def test_spec_is_covered_at_all() -> None:
    load_spec()
    operations = spec_operations()
    assert len(operations) >= 19, operations


@pytest.mark.parametrize(("path", "method"), spec_operations())
def test_every_operation_of_the_spec_is_documented(document: dict[str, Any], path: str, method: str) -> None:
    spec = load_spec()
    expected = spec["paths"][path][method]
    ours_path = "/api" + path
    assert ours_path in document["paths"], sorted(document["paths"])
    assert method in document["paths"][ours_path], sorted(document["paths"][ours_path])
    ours = document["paths"][ours_path][method]

    spec_codes = {str(code) for code in expected["responses"]}
    our_codes = {str(code) for code in ours["responses"]}
    assert spec_codes <= our_codes, f"{method.upper()} {ours_path} lacks {sorted(spec_codes - our_codes)}"
    for extra in our_codes - spec_codes:
        assert extra.isdigit(), extra
        assert 400 <= int(extra) < 600, (
            f"{method.upper()} {ours_path} documents an unexpected success {extra}"
        )

    if "operationId" in expected:
        assert ours.get("operationId") == expected["operationId"]
    declared = {p["name"] for p in ours.get("parameters", []) if p.get("in") == "path"}
    assert declared == path_parameters(ours_path)
    assert path_parameters(ours_path) == path_parameters(path)
    if expected.get("security"):
        assert ours.get("security"), f"{method.upper()} {ours_path} does not declare its authentication"


def test_every_documented_error_response_uses_the_error_shape(document: dict[str, Any]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    for path, item in document["paths"].items():
        if not path.startswith("/api/") or path in ("/api/openapi.json", "/api/docs"):
            continue
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for code, response in operation["responses"].items():
                if not str(code).startswith(("4", "5")):
                    continue
                content = response.get("content", {}).get("application/json")
                assert content, f"{method.upper()} {path} {code} has no JSON body"
                ref = content["schema"].get("$ref", "")
                schema = schemas[ref.rsplit("/", 1)[-1]] if ref else content["schema"]
                assert "errors" in schema.get("properties", {}), f"{method.upper()} {path} {code}"


def test_documented_paths_are_served(client: FlaskClient, document: dict[str, Any]) -> None:
    """No documented path is a 404 route: a dummy value for each parameter reaches a view."""
    for path, item in document["paths"].items():
        concrete = re.sub(r"{[^}]+}", "1", path)
        for method in item:
            if method not in METHODS:
                continue
            response = client.open(concrete, method=method.upper())
            body = response.get_json(silent=True) or {}
            assert "route" not in body.get("errors", {}), f"{method.upper()} {path}"
            assert response.status_code != 405, f"{method.upper()} {path}"


def test_only_api_operations_are_documented(document: dict[str, Any]) -> None:
    """The document's own URL and the docs page are not API operations."""
    assert "/api/openapi.json" not in document["paths"]
    assert "/api/docs" not in document["paths"]


def test_docs_redirect_to_an_html_page(client: FlaskClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code in (301, 302, 303, 307, 308)
    target = urljoin("http://localhost/api/docs", response.headers["Location"])
    page = client.get(target)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<html" in html.lower()
    assert "swagger" in html.lower()


def test_docs_page_assets_and_document_load(client: FlaskClient) -> None:
    """The page's relative links (stylesheet, scripts, the document it renders) all answer 200."""
    page_url = urljoin("http://localhost/api/docs", client.get("/api/docs").headers["Location"])
    html = client.get(page_url).get_data(as_text=True)
    links = set(re.findall(r'(?:href|src)="([^"]+)"', html))
    links |= set(re.findall(r'new URL\("([^"]+)"', html))  # the document Swagger UI renders
    local = [link for link in links if not link.startswith(("http://", "https://", "//", "data:", "#"))]
    assert local, html[:500]
    for link in local:
        response = client.get(urljoin(page_url, link))
        assert response.status_code == 200, f"{link} -> {urljoin(page_url, link)}: {response.status_code}"
        if link.endswith(".json"):
            assert response.get_json()["paths"]


def string_schemas(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict) and value.get("type") == "string":
                yield key, value
            yield from string_schemas(value)
    elif isinstance(node, list):
        for item in node:
            yield from string_schemas(item)


def test_every_request_string_with_a_pattern_excludes_nul(document: dict[str, Any]) -> None:
    """No field may hold NUL (issue 14, finding 3), and the document says so: a fuzzer trusting a pattern
    that allows NUL sends it as valid data (the not-blank pattern once did)."""
    checked = 0
    for name, schema in string_schemas(document["components"]["schemas"]):
        if "pattern" in schema and "format" not in schema:
            checked += 1
            assert re.search(schema["pattern"], "text\x00") is None, (name, schema["pattern"])
            assert re.search(schema["pattern"], "\x00") is None, (name, schema["pattern"])
    assert checked >= 10
