"""Run the official RealWorld browser suite (REALWORLD_DIR/e2e, unchanged) against Conduit: ``make e2e``.

Both servers at once, each on a fresh PostgreSQL database:

- ``gunicorn``: ``conduit deploy`` and ``conduit serve`` on a free loopback port (the UI in embedded mode);
- ``stack``: ``bin/stack.py up`` on free ports (nginx serving the UI from disk, two gunicorn, Redis).

The suite runs in ``spa`` mode with ``@playwright/test`` (``e2e/``, npm-locked) in Debian's Chromium. Its
``page.route()`` mocks target ``https://api.realworld.show/api``, and Conduit's UI calls its API on its own
origin, so the browser is given that origin: a private TLS nginx (harness/tls_front.py) with a throwaway
certificate (harness/tls.py) passes every request to the server under test, Chromium maps the name to it
(``--host-resolver-rules``; no other name resolves) and accepts that certificate's key only
(``--ignore-certificate-errors-spki-list``). The test runner's own setup calls (``API_BASE``) go to the
server directly. Two demo authors (``johndoe``, ``janedoe``) with articles are created first: the suite
expects them on the backend in ``spa`` mode.

As root, everything runs in a network namespace of its own with only a loopback interface
(harness/netns.py): Chromium aborts its requests when the host's interfaces change, which container work
on a shared machine does all the time. PostgreSQL is reached through its socket: ``E2E_DATABASE_URL``
(default ``postgresql://postgres@/postgres?host=/var/run/postgresql``) names the server; the stack starts
a private Redis inside the namespace.

The run passes when every test passes (on the suite's retry at worst: reported as flaky) except the
exceptions listed in EXPECTED_FAILURES, which must fail, each for its stated reason. Reports, failure
screenshots and traces: test-artifacts/e2e/<server>/ (``E2E_TRACE=retain-on-failure`` traces every
failed attempt).

    bin/e2e.py [--server gunicorn|stack ...] [--sequential] [-- PLAYWRIGHT ARGS]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import netns  # noqa: E402
from harness.net import free_port, http_request, http_status, wait_for  # noqa: E402
from harness.realworld import RealWorldMissingError, realworld_file  # noqa: E402
from harness.tls import TlsIdentity, make_identity  # noqa: E402
from harness.tls_front import tls_front  # noqa: E402

SUITE_HOST = "api.realworld.show"
E2E = ROOT / "e2e"
SUITE_COPY = E2E / ".suite"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
#: The PostgreSQL server, by its socket: the run has a network namespace of its own (harness/netns.py).
DEFAULT_PG = "postgresql://postgres@/postgres?host=/var/run/postgresql"
SERVERS = ("gunicorn", "stack")
#: The Playwright processes running now, so that an interruption can stop them (then each server stops).
RUNNING: list[subprocess.Popen[str]] = []
#: Tests that fail by design, with the text their failure must show and why.
EXPECTED_FAILURES = {
    "should prevent XSS via javascript protocol in src": (
        "Failed to update user: 422",
        "the API refuses a javascript: image URL (422, image must be an http(s) URL), so the test cannot "
        "store its payload",
    ),
    "should prevent XSS via data URI with script": (
        "Failed to update user: 422",
        "the API refuses a data: image URL (422, image must be an http(s) URL), so the test cannot store its "
        "payload",
    ),
}
#: Left out by playwright.config.ts (grepInvert), with why.
EXCLUDED = {
    "API should be accessible": "health.spec.ts calls https://api.realworld.show/api/tags from the "
    "test runner: it needs the internet",
}
#: The demo backend's authors that spa-mode specs expect (social.spec.ts follows johndoe).
DEMO_AUTHORS = {
    "johndoe": [
        (
            "Welcome to Conduit",
            "A first look around",
            "Conduit is a place to share **knowledge**.",
            ["welcome"],
        ),
        (
            "How to train your dragon",
            "Ever wonder how?",
            "Very carefully.\n\n- patience\n- fire",
            ["dragons"],
        ),
    ],
    "janedoe": [
        ("Gardening on a balcony", "Small spaces, big tomatoes", "Start with good soil.", ["gardening"]),
    ],
}


def log(message: str) -> None:
    print(f"[e2e] {message}", flush=True)


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Authorization": f"Token {token}"} if token else {}
    reply = http_request(base, method, path, body, headers, timeout=15)
    if reply.status >= 400:
        raise RuntimeError(f"{method} {path} answered {reply.status}: {reply.body[:200]!r}")
    return reply.json()


def wait_ready(url: str, alive: Callable[[], bool], what: str, timeout: float = 40) -> None:
    if not wait_for(lambda: http_status(url) == 200, timeout, alive):
        raise RuntimeError(f"{what} exited before it was ready" if not alive() else f"{url} did not answer")


def clean_env(**values: str) -> dict[str, str]:
    """The caller's PATH and locale only: no setting of the developer's shell reaches a server."""
    env = {
        name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if name in os.environ
    }
    env.update(values)
    return env


@contextmanager
def postgres_database(name: str) -> Iterator[str]:
    import sqlalchemy as sa

    from conduit.settings import normalize_database_url

    server = normalize_database_url(os.environ.get("E2E_DATABASE_URL", DEFAULT_PG))
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        raise RuntimeError(f"PostgreSQL is not available: {str(error).splitlines()[0]}") from None
    try:
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def gunicorn_server(work: Path, database_url: str) -> Iterator[str]:
    conduit = str(Path(sys.executable).with_name("conduit"))
    port = free_port()
    env = clean_env(
        CONDUIT_ENV="testing",
        PASSWORD_BLOCKLIST="false",  # noqa: S106 - a switch: the official browser suite uses password123
        DATABASE_URL=database_url,
        LOG_LEVEL="WARNING",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
    )
    subprocess.run([conduit, "deploy"], env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603
    with (work / "gunicorn.log").open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - our own console script
            [conduit, "serve"], env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/readyz", lambda: server.poll() is None, "gunicorn")
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextmanager
def stack_server(work: Path, database_url: str) -> Iterator[str]:
    port = free_port()
    env = clean_env(
        DATABASE_URL=database_url,
        STACK_DIR=str(work / "stack"),
        STACK_PORT=str(port),
        STACK_APP_PORTS=f"{free_port()},{free_port()}",
        WEB_CONCURRENCY="2",
        REDIS_KEY_PREFIX=f"conduit-e2e-{os.getpid()}:",
        # bin/stack.py runs the production profile, whose common-password list refuses the official
        # browser suite's password123 (docs/security.md, "Common passwords").
        PASSWORD_BLOCKLIST="false",  # noqa: S106 - a switch, not a password
    )
    command = [sys.executable, str(ROOT / "bin" / "stack.py")]
    try:
        started = subprocess.run([*command, "up"], env=env, cwd=ROOT, capture_output=True, text=True)  # noqa: S603
        if started.returncode != 0:
            raise RuntimeError(f"bin/stack.py up failed: {(started.stdout + started.stderr).strip()}")
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run([*command, "down"], env=env, cwd=ROOT, capture_output=True, check=False)  # noqa: S603


def seed_demo_authors(api: str) -> None:
    tokens = {}
    for username, articles in DEMO_AUTHORS.items():
        user = {
            "username": username,
            "email": f"{username}@example.com",
            "password": secrets.token_urlsafe(12),
        }
        tokens[username] = call(api, "POST", "/users", {"user": user})["user"]["token"]
        for title, description, body, tags in articles:
            article = {"title": title, "description": description, "body": body, "tagList": tags}
            call(api, "POST", "/articles", {"article": article}, tokens[username])
    slug = call(api, "GET", "/articles?author=johndoe&limit=1")["articles"][0]["slug"]
    comment = {"comment": {"body": "Lovely read, thank you."}}
    call(api, "POST", f"/articles/{slug}/comments", comment, tokens["janedoe"])


@dataclass
class Outcome:
    server: str
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def copy_suite() -> Path:
    source = realworld_file("e2e")
    if SUITE_COPY.exists():
        shutil.rmtree(SUITE_COPY)
    shutil.copytree(source, SUITE_COPY)
    for path in SUITE_COPY.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    return source


def walk(suites: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for suite in suites:
        for spec in suite.get("specs", []):
            for test in spec.get("tests", []):
                yield spec["title"], {**test, "file": spec.get("file", "")}
        yield from walk(suite.get("suites", []))


def judge(server: str, report: dict[str, Any]) -> Outcome:
    outcome = Outcome(server)
    counts = {"passed": 0, "failed": 0, "skipped": 0, "flaky": 0, "expected failures": 0}
    for title, test in walk(report.get("suites", [])):
        results = test.get("results", [])
        messages = " | ".join((r.get("error") or {}).get("message", "") for r in results)
        if title in EXPECTED_FAILURES:
            needle, _ = EXPECTED_FAILURES[title]
            if (
                test["status"] == "unexpected"
                and results
                and all(needle in str(r.get("error")) for r in results)
            ):
                counts["expected failures"] += 1
            else:
                counts["failed"] += 1
                outcome.problems.append(f"{title}: expected to fail with {needle!r}, got {test['status']}")
            continue
        status = test["status"]
        if status == "expected":
            counts["skipped" if results and results[-1]["status"] == "skipped" else "passed"] += 1
        elif status == "flaky":
            counts["flaky"] += 1
        elif status == "skipped":
            counts["skipped"] += 1
            outcome.problems.append(f"{test['file']}: {title}: skipped")
        else:
            counts["failed"] += 1
            outcome.problems.append(
                f"{test['file']}: {title}: {messages.splitlines()[0] if messages else status}"
            )
    counts["excluded"] = len(EXCLUDED)
    outcome.counts = counts
    return outcome


def run_suite(server: str, origin: str, tls_address: str, identity: TlsIdentity, extra: list[str]) -> Outcome:
    output = ARTIFACTS / server
    env = {
        **os.environ,
        "TEST_MODE": "spa",
        "E2E_BASE_URL": f"https://{SUITE_HOST}",
        "API_BASE": f"{origin}/api",
        "E2E_HOST_RULES": f"MAP {SUITE_HOST} {tls_address}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "E2E_SPKI": identity.spki_sha256,
        "E2E_OUTPUT": str(output),
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
    }
    cli = E2E / "node_modules" / "@playwright" / "test" / "cli.js"
    command = ["node", str(cli), "test", "--config", str(E2E / "playwright.config.ts"), *extra]
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 - the locked Playwright
        command, cwd=E2E, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    RUNNING.append(process)
    assert process.stdout is not None
    try:
        with (output / "playwright.log").open("w") as transcript:
            for line in process.stdout:
                transcript.write(line)
                print(f"[{server}] {line}", end="", flush=True)
        process.wait()
    finally:
        if process.poll() is None:  # interrupted: Playwright closes its browsers on TERM
            process.terminate()
            process.wait(timeout=30)
    report_file = output / "report.json"
    if not report_file.exists():
        outcome = Outcome(server, problems=[f"Playwright wrote no report (exit {process.returncode})"])
    else:
        outcome = judge(server, json.loads(report_file.read_text()))
        outcome.problems += [
            f"Playwright: {e.get('message', '').splitlines()[0]}"
            for e in json.loads(report_file.read_text()).get("errors", [])
        ]
    outcome.seconds = time.monotonic() - started
    return outcome


def run_server(server: str, identity: TlsIdentity, extra: list[str]) -> Outcome:
    work = ARTIFACTS / server
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            database = stack.enter_context(postgres_database(f"conduit_e2e_{server}_{os.getpid()}"))
            start = gunicorn_server if server == "gunicorn" else stack_server
            origin = stack.enter_context(start(work, database))
            address = stack.enter_context(
                tls_front(work / "tls-front", identity, free_port(), origin.split("//")[1])
            )
            seed_demo_authors(f"{origin}/api")
            log(f"{server}: {origin} serves https://{SUITE_HOST} (TLS front {address})")
            outcome = run_suite(server, origin, address, identity, extra)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        outcome = Outcome(server, problems=[f"could not run: {error}"])
    outcome.seconds = time.monotonic() - started
    return outcome


def run_all(servers: list[str], sequential: bool, extra: list[str]) -> dict[str, Outcome]:
    identity = make_identity(ARTIFACTS / "tls", SUITE_HOST)
    outcomes: dict[str, Outcome] = {}

    def one(server: str) -> None:
        outcomes[server] = run_server(server, identity, extra)

    if sequential:
        for server in servers:
            one(server)
        return outcomes
    threads = [threading.Thread(target=one, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        log("interrupted: stopping Playwright, then the servers")
        for process in RUNNING:
            if process.poll() is None:
                process.terminate()
        for thread in threads:
            thread.join()
        raise
    return outcomes


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", choices=SERVERS, action="append", help="default: both")
    parser.add_argument("--sequential", action="store_true", help="one server after the other")
    parser.add_argument("playwright", nargs="*", help="more arguments for `playwright test` (after --)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        log(f"{CHROMIUM} is missing: bin/system-packages chromium")
        return 1
    if not (E2E / "node_modules" / "@playwright" / "test").is_dir():
        log("e2e/node_modules is missing: make e2e-deps (npm ci in e2e/)")
        return 1
    if not netns.inside():
        if netns.available():
            log("entering a network namespace of its own (harness/netns.py)")
            return netns.run_inside([sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]])
        log("WARNING: not root or no unshare: running in the host's network, where an interface change")
        log("WARNING: aborts Chromium's requests (net::ERR_NETWORK_CHANGED) and makes tests flaky")
    else:
        netns.loopback_up()
    signal.signal(signal.SIGTERM, interrupt)
    try:
        source = copy_suite()
    except RealWorldMissingError as missing:
        log(str(missing))
        return 1
    log(f"suite: {source} (copied unchanged to {SUITE_COPY.relative_to(ROOT)})")
    servers = args.server or list(SERVERS)
    started = time.monotonic()
    outcomes = run_all(servers, args.sequential or len(servers) == 1, args.playwright)
    ok = True
    for server in servers:
        outcome = outcomes[server]
        counts = ", ".join(f"{count} {name}" for name, count in outcome.counts.items())
        log(f"{server}: {counts or 'no result'} in {outcome.seconds:.0f} s")
        for problem in outcome.problems:
            log(f"{server}: PROBLEM {problem}")
        ok = ok and not outcome.problems
    for title, (_, reason) in EXPECTED_FAILURES.items():
        log(f"expected failure: {title!r}: {reason}")
    for title, reason in EXCLUDED.items():
        log(f"excluded: {title!r}: {reason}")
    log(f"{'PASSED' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
