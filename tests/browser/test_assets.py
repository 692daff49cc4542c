"""The committed build of the web UI: up to date with frontend/, within its size budget, safe under a
strict CSP, and served by Flask with the right cache headers (nginx: tests/integration/test_stack.py)."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from conduit.edge.headers import UI_POLICY
from conduit.ops.nginx_config import STATIC_ROOT
from tests.support.databases import get_db_of, make_app, migrated_sqlite_url
from tests.support.servers import REPO
from tests.support.skips import require_or_skip

FRONTEND = REPO / "frontend"
BUDGET_BYTES = 100 * 1024
FINGERPRINTED = re.compile(r"^[\w-]+\.[0-9a-f]{12}\.(js|css)$")


def built_files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and path.suffix != ".gz"
    }


def test_the_committed_build_matches_the_sources(tmp_path: Path) -> None:
    if not (FRONTEND / "node_modules").is_dir():
        require_or_skip("frontend/node_modules is missing: run `npm ci` in frontend/")
    output = tmp_path / "static"
    built = subprocess.run(
        [sys.executable, str(REPO / "bin" / "build-frontend.py"), "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    fresh, committed = built_files(output), built_files(STATIC_ROOT)
    assert sorted(fresh) == sorted(committed), "run `make frontend` and commit src/conduit/static"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], "run `make frontend` and commit src/conduit/static"
    zipped = sorted(path.name for path in output.rglob("*.gz"))
    assert "index.html.gz" in zipped
    assert all(
        gzip.decompress((output / "assets" / name).read_bytes()) for name in zipped if name != "index.html.gz"
    )


def test_javascript_and_css_fit_the_budget() -> None:
    assets = [path for path in (STATIC_ROOT / "assets").iterdir() if path.suffix in {".js", ".css"}]
    assert {path.suffix for path in assets} == {".js", ".css"}
    assert all(FINGERPRINTED.match(path.name) for path in assets)
    total = sum(len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)) for path in assets)
    assert total <= BUDGET_BYTES, f"JS+CSS is {total / 1024:.1f} KB gzipped; the budget is 100 KB"


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data.strip()


def test_the_page_needs_nothing_a_strict_csp_forbids_nor_anything_from_elsewhere() -> None:
    page = Page()
    page.feed((STATIC_ROOT / "index.html").read_text())
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert scripts
    assert all(attrs.get("src", "").startswith("/static/assets/") for attrs in scripts)
    assert page.script_text == ""
    assert not [tag for tag, attrs in page.tags if tag == "style" or "style" in attrs]
    assert not [name for _, attrs in page.tags for name in attrs if name.startswith("on")]
    urls = [attrs.get("src") or attrs.get("href") or "" for _, attrs in page.tags]
    assert not [url for url in urls if re.match(r"^(https?:)?//", url)]


@pytest.mark.parametrize("pattern", [r"\.innerHTML\b", r"\.outerHTML\b", r"\beval\(", r"new Function\b"])
def test_our_scripts_never_parse_strings_as_html_or_code(pattern: str) -> None:
    offenders = [
        path.name for path in (FRONTEND / "src").glob("*.js") if re.search(pattern, path.read_text())
    ]
    assert offenders == []


@pytest.fixture
def assets_client(tmp_path: Path) -> Iterator[FlaskClient]:
    app = make_app(migrated_sqlite_url(tmp_path))
    yield app.test_client()
    get_db_of(app).dispose()


UI_ROUTES = ["/", "/login", "/register", "/settings", "/editor", "/editor/a-slug", "/article/a-slug"]
UI_ROUTES += ["/tag/python", "/profile/someone", "/profile/someone/favorites"]


@pytest.mark.parametrize("path", UI_ROUTES)
def test_flask_serves_the_page_at_every_route_of_the_ui(assets_client: FlaskClient, path: str) -> None:
    response = assets_client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.data == (STATIC_ROOT / "index.html").read_bytes()
    assert response.headers["Cache-Control"] == "no-cache"


def test_flask_lets_browsers_keep_fingerprinted_assets(assets_client: FlaskClient) -> None:
    script = next((STATIC_ROOT / "assets").glob("main.*.js"))
    asset = assets_client.get(f"/static/assets/{script.name}")
    assert asset.status_code == 200
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    avatar = assets_client.get("/static/default-avatar.svg")
    assert avatar.status_code == 200
    assert "immutable" not in avatar.headers.get("Cache-Control", "")
    missing = assets_client.get("/static/assets/main.000000000000.js")
    assert missing.status_code == 404
    assert "immutable" not in missing.headers.get("Cache-Control", "")


@pytest.mark.parametrize(
    "path",
    ["/no/such/page", "/profile/a/b/c", "/static/assets/main.000000000000.js", "/favicon.ico", "/apix"],
)
def test_flask_answers_an_unknown_page_with_the_ui_and_404(assets_client: FlaskClient, path: str) -> None:
    for method in ("GET", "HEAD"):
        response = assets_client.open(path, method=method)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["Content-Security-Policy"] == UI_POLICY
    assert assets_client.get(path).data == (STATIC_ROOT / "index.html").read_bytes()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/no/such/thing"), ("GET", "/api"), ("HEAD", "/api/nowhere"), ("POST", "/no/such/page")],
)
def test_flask_keeps_the_json_404_for_api_paths_and_non_page_requests(
    assets_client: FlaskClient, method: str, path: str
) -> None:
    response = assets_client.open(path, method=method)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    if method != "HEAD":
        assert response.get_json() == {"errors": {"route": [f"no route matches {method} {path}"]}}
