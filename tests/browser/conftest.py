"""A real browser (Debian's Chromium, driven by Playwright) against a real Conduit.

``site`` is a live server: gunicorn serving the UI in embedded mode, and the nginx stack of
``bin/stack.py`` (nginx serving the built files from disk, two gunicorn, PostgreSQL, Redis). Each page
records every request it makes, so a test can check that nothing leaves our origin.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    sync_playwright,
)

from tests.conftest import migrated_sqlite_url, postgres_database, require_or_skip
from tests.integration.support import REPO, free_port, http_request, server_env, stop, wait_until
from tests.integration.test_stack import require_nginx, stack_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
#: Visible text whose contrast with its background is below WCAG AA (4.5:1), as "tag.class: ratio text".
LOW_CONTRAST = """() => {
  const rgba = (color) => color.match(/[\\d.]+/g).map(Number);
  const channel = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (element) => {
    for (; element; element = element.parentElement) {
      const color = rgba(getComputedStyle(element).backgroundColor);
      if (color.length < 4 || color[3] > 0) return color;
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const element of document.querySelectorAll("body *")) {
    const own = [...element.childNodes].filter((node) => node.nodeType === Node.TEXT_NODE);
    const text = own.map((node) => node.textContent).join("").trim();
    if (!text || !element.checkVisibility() || element.closest(".visually-hidden, .skip-link")) continue;
    const [a, b] = [luminance(rgba(getComputedStyle(element).color)), luminance(background(element))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${element.tagName}.${element.className}: ${ratio.toFixed(2)} ${text}`);
  }
  return low;
}"""
GUNICORN_CONFIG = REPO / "deploy" / "gunicorn.conf.py"


@dataclass
class Site:
    name: str
    url: str


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG of one colour: the picture that "another site" serves in these tests."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class Tab:
    """A page of its own browser context, and what happened in it."""

    page: Page
    site: Site
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    #: Images at https URLs that a user supplied (an avatar, a picture in an article): the only requests
    #: that may leave our origin. This machine has no internet, so the test serves them itself.
    user_images: set[str] = field(default_factory=set)

    def go(self, path: str) -> Page:
        self.page.goto(self.site.url + path)
        return self.page

    def serve_user_image(self, url: str, rgb: tuple[int, int, int] = (46, 125, 50)) -> None:
        self.user_images.add(url)
        picture = png(8, 8, rgb)
        self.page.context.route(
            url, lambda route: route.fulfill(status=200, content_type="image/png", body=picture)
        )

    def screenshot(self, name: str) -> None:
        """Save the page under test-artifacts/screenshots/ and check that all its visible text is readable."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{self.site.name}-{name}.png", full_page=True)
        assert self.page.evaluate(LOW_CONTRAST) == [], name


def _watch(page: Page, site: Site) -> Tab:
    tab = Tab(page, site)
    page.on("request", lambda request: tab.requests.append(request.url))
    page.on("requestfailed", lambda request: _failed(tab, request))
    page.on("response", lambda response: _answered(tab, response))
    page.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error}"))
    page.on("console", lambda message: _console(tab, message))
    page.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    return tab


def _failed(tab: Tab, request: Request) -> None:
    if request.failure == "csp":  # Chromium refused it under the page's Content-Security-Policy
        tab.blocked.append(request.url)


def _answered(tab: Tab, response: Response) -> None:
    if response.status >= 400 and not response.url.startswith(f"{tab.site.url}/api/"):
        tab.errors.append(f"{response.status} for {response.url}")


def _console(tab: Tab, message: ConsoleMessage) -> None:
    # Chromium logs each failed request too: API errors show in .error-messages, others in _answered.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        tab.errors.append(f"{message.text} at {message.location}")


@pytest.fixture
def open_tab(browser: Browser, site: Site) -> Iterator[Callable[[], Tab]]:
    """New tabs, each with its own storage (a separate user); each must end clean: no script errors, no
    CSP violations, no dialogs, and no request to anywhere but our origin, except the https images users
    supplied (``Tab.serve_user_image``) and what the CSP stopped before it left."""
    contexts: list[BrowserContext] = []
    tabs: list[Tab] = []

    def open_one() -> Tab:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        contexts.append(context)
        tabs.append(_watch(context.new_page(), site))
        return tabs[-1]

    yield open_one
    for context in contexts:
        context.close()
    for tab in tabs:
        assert tab.errors == [], "\n".join(tab.errors)
        assert tab.dialogs == []
        elsewhere = [url for url in tab.requests if not url.startswith(site.url + "/")]
        unexpected = [url for url in elsewhere if url not in tab.blocked and url not in tab.user_images]
        assert unexpected == [], "requests that left our origin"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        require_or_skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@contextmanager
def _gunicorn(directory: Path) -> Iterator[str]:
    port = free_port()
    env = server_env(
        PORT=str(port),
        WEB_CONCURRENCY="2",
        CONDUIT_ENV="testing",
        DATABASE_URL=migrated_sqlite_url(directory),
    )
    log = directory / "gunicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "conduit.wsgi:app"],
            cwd=directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: http_request(url, "GET", "/healthz").status == 200,
            "gunicorn",
            20,
            alive=lambda: process.poll() is None,
            log=log,
        )
        yield url
    finally:
        stop(process)


@contextmanager
def _stack(directory: Path, database_url: str) -> Iterator[str]:
    port, app_ports = free_port(), (free_port(), free_port())
    env = stack_env(directory, port, app_ports, database_url)
    command = [sys.executable, str(REPO / "bin" / "stack.py")]

    def run(action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, action], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    started = run("up")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield f"http://127.0.0.1:{port}"
    finally:
        stopped = run("down")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


@pytest.fixture(scope="module", params=["gunicorn", "nginx-stack"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp(request.param)
    if request.param == "gunicorn":
        with _gunicorn(directory) as url:
            yield Site("gunicorn", url)
        return
    require_nginx()
    with (
        postgres_database(request.getfixturevalue("pg_server_url")) as database_url,
        _stack(directory, database_url) as url,
    ):
        yield Site("nginx-stack", url)
