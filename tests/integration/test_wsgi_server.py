"""The real thing: gunicorn with deploy/gunicorn.conf.py serving conduit.wsgi:app."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import migrated_sqlite_url
from tests.integration.support import (
    REPO,
    Reply,
    free_port,
    http_request,
    server_env,
    stop,
    wait_until,
)

pytestmark = pytest.mark.slow

GUNICORN_CONFIG = REPO / "deploy" / "gunicorn.conf.py"
START_TIMEOUT = 15.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    stdout: Path
    stderr: Path

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Reply:
        return http_request(self.base_url, method, path, body, headers)


@contextmanager
def gunicorn(workdir: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn with its output in files (a pipe nobody reads could fill up and block it)."""
    stdout = workdir / "gunicorn.stdout"
    stderr = workdir / "gunicorn.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "conduit.wsgi:app"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        try:
            yield process
        finally:
            stop(process)


def wait_until_healthy(server: Server) -> None:
    wait_until(
        lambda: server.request("GET", "/healthz").status == 200,
        "gunicorn /healthz",
        START_TIMEOUT,
        alive=lambda: server.process.poll() is None,
        log=server.stderr,
    )


@pytest.fixture
def migrated_sqlite(tmp_path: Path) -> str:
    return migrated_sqlite_url(tmp_path)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    return path


@pytest.fixture
def server(workdir: Path, migrated_sqlite: str) -> Iterator[Server]:
    port = free_port()
    env = server_env(PORT=str(port), WEB_CONCURRENCY="2", CONDUIT_ENV="testing", DATABASE_URL=migrated_sqlite)
    with gunicorn(workdir, env) as process:
        running = Server(
            process, f"http://127.0.0.1:{port}", workdir / "gunicorn.stdout", workdir / "gunicorn.stderr"
        )
        wait_until_healthy(running)
        yield running


def test_serves_the_api(server: Server) -> None:
    tags = server.request("GET", "/api/tags")
    assert tags.status == 200
    assert tags.headers["Content-Type"].startswith("application/json")
    assert tags.json() == {"tags": []}

    ready = server.request("GET", "/readyz")
    assert ready.status == 200
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok"}

    user = {"user": {"username": "gina", "email": "gina@example.com", "password": "password123"}}
    created = server.request("POST", "/api/users", user)
    assert created.status == 201, created.body
    token = created.json()["user"]["token"]
    me = server.request("GET", "/api/user", headers={"Authorization": f"Token {token}"})
    assert me.status == 200
    assert me.json()["user"]["username"] == "gina"

    missing = server.request("GET", "/no/such/route")
    assert missing.status == 404
    assert missing.headers["Content-Type"].startswith("application/json")

    echoed = server.request("GET", "/api/tags", headers={"X-Request-ID": "through-gunicorn-1"})
    assert echoed.headers["X-Request-ID"] == "through-gunicorn-1"


def post_chunked(server: Server, path: str, body: bytes) -> tuple[int, str, bytes] | None:
    """POST with ``Transfer-Encoding: chunked``: no Content-Length for anyone to check up front.

    None when the server closed the connection before the client could read an answer: a sync worker
    closes at once after refusing a body it did not read to the end, and the TCP reset may overtake
    its response (nginx's lingering close prevents that in the full stack).
    """
    connection = http.client.HTTPConnection(server.base_url.removeprefix("http://"), timeout=10)
    try:
        chunks = (body[start : start + 65536] for start in range(0, len(body), 65536))
        connection.request(
            "POST", path, body=chunks, headers={"Content-Type": "application/json"}, encode_chunked=True
        )
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    except (BrokenPipeError, ConnectionResetError):
        return None
    finally:
        connection.close()


def test_chunked_bodies_are_limited_too(server: Server) -> None:
    user = {"username": "hank", "email": "hank@example.com", "password": "password123"}
    small = post_chunked(server, "/api/users", json.dumps({"user": user}).encode())
    assert small is not None
    assert small[0] == 201, small
    huge = json.dumps(
        {"user": {**user, "username": "ivy", "email": "ivy@example.com"}, "pad": "a" * 2_000_000}
    )
    answer = post_chunked(server, "/api/users", huge.encode())
    if answer is not None:  # the refusal reached the client before the connection was reset
        status, content_type, body = answer
        assert status == 413, body[:300]
        assert content_type.startswith("application/json")
        assert "body" in json.loads(body)["errors"]
    # Either way the cut body was not taken for a whole one: no account was created from it.
    assert server.request("GET", "/api/profiles/ivy").status == 404
    assert server.request("GET", "/api/profiles/hank").status == 200


def test_both_workers_serve(server: Server) -> None:
    """Many requests over fresh connections are all answered (two sync workers share the socket)."""
    for _ in range(20):
        assert server.request("GET", "/api/tags").status == 200


def test_nothing_is_written_to_stdout(server: Server) -> None:
    for path in ("/healthz", "/readyz", "/api/tags", "/api/articles", "/nope"):
        server.request("GET", path)
    server.request("POST", "/api/users", {"user": {}})
    server.request("POST", "/api/users/login", body=None, headers={"Content-Type": "text/plain"})
    server.request("GET", "/api/tags", headers={"X-Request-ID": "stdout-check-1"})
    stop(server.process)
    assert server.process.returncode == 0
    assert server.stdout.read_bytes() == b""
    log = server.stderr.read_text(errors="replace")
    assert "Booting worker" in log  # the logs exist: they went to stderr
    # so did the app's line for each request, with the request id (gunicorn's access log is off: one line
    # per request, not two)
    assert re.search(
        r'INFO \[conduit\.request\] \[stdout-check-1\] 127\.0\.0\.1 "GET /api/tags HTTP/1\.1" 200 ', log
    )
    assert "gunicorn.access" not in log
    assert "Traceback" not in log


def test_production_without_a_secret_key_refuses_to_start(workdir: Path, migrated_sqlite: str) -> None:
    env = server_env(
        PORT=str(free_port()), WEB_CONCURRENCY="2", CONDUIT_ENV="production", DATABASE_URL=migrated_sqlite
    )
    with gunicorn(workdir, env) as process:
        try:
            returncode = process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"gunicorn kept running for {START_TIMEOUT:.0f} s with an unsafe configuration")
    stderr = (workdir / "gunicorn.stderr").read_text(errors="replace")
    assert returncode != 0
    refusals = [line for line in stderr.splitlines() if "refusing to start" in line]
    assert len(refusals) == 1, stderr
    assert "SECRET_KEY" in refusals[0]
    assert "Traceback" not in stderr, stderr
    assert (workdir / "gunicorn.stdout").read_bytes() == b""
