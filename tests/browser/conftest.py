"""A real browser (Debian's Chromium, driven by Playwright) against a real Conduit.

``site`` is a live server: gunicorn serving the UI in embedded mode, and the nginx stack of
``bin/stack.py`` (nginx serving the built files from disk, two gunicorn, PostgreSQL, Redis). Each page
records every request it makes, so a test can check that nothing leaves our origin.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    expect,
    sync_playwright,
)

from harness.net import free_port, http_request
from tests.support.browser import Site, Tab
from tests.support.databases import migrated_sqlite_url, postgres_database
from tests.support.gunicorn import GUNICORN_CONFIG
from tests.support.servers import REPO, server_env, stop, wait_until
from tests.support.skips import require_or_skip
from tests.support.stack import require_nginx, stack_env

CHROMIUM = Path("/usr/bin/chromium")
# Assertions wait for the page, not a clock: a CI machine with every core busy once took more than
# Playwright's default 5 s to render a page; what never appears still fails, after 15 s.
expect.set_options(timeout=15_000)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


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
