"""The real thing: gunicorn with deploy/gunicorn.conf.py serving conduit.wsgi:app."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.net import free_port
from tests.support.gunicorn import START_TIMEOUT, Server, gunicorn, wait_until_healthy
from tests.support.servers import server_env, stop

pytestmark = pytest.mark.slow


@pytest.fixture
def gunicorn_server(workdir: Path, sqlite_url: str) -> Iterator[Server]:
    port = free_port()
    env = server_env(PORT=str(port), WEB_CONCURRENCY="2", CONDUIT_ENV="testing", DATABASE_URL=sqlite_url)
    with gunicorn(workdir, env) as process:
        running = Server(
            process, f"http://127.0.0.1:{port}", workdir / "gunicorn.stdout", workdir / "gunicorn.stderr"
        )
        wait_until_healthy(running)
        yield running


def test_serves_the_api(gunicorn_server: Server) -> None:
    tags = gunicorn_server.request("GET", "/api/tags")
    assert tags.status == 200
    assert tags.headers["Content-Type"].startswith("application/json")
    assert tags.json() == {"tags": []}

    ready = gunicorn_server.request("GET", "/readyz")
    assert ready.status == 200
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok"}

    user = {"user": {"username": "gina", "email": "gina@example.com", "password": "password123"}}
    created = gunicorn_server.request("POST", "/api/users", user)
    assert created.status == 201, created.body
    token = created.json()["user"]["token"]
    me = gunicorn_server.request("GET", "/api/user", headers={"Authorization": f"Token {token}"})
    assert me.status == 200
    assert me.json()["user"]["username"] == "gina"

    missing = gunicorn_server.request("GET", "/api/no/such/route")
    assert missing.status == 404
    assert missing.headers["Content-Type"].startswith("application/json")

    echoed = gunicorn_server.request("GET", "/api/tags", headers={"X-Request-ID": "through-gunicorn-1"})
    assert echoed.headers["X-Request-ID"] == "through-gunicorn-1"


def post_chunked(gunicorn_server: Server, path: str, body: bytes) -> tuple[int, str, bytes] | None:
    """POST with ``Transfer-Encoding: chunked``: no Content-Length for anyone to check up front.

    None when the server closed the connection before the client could read an answer: a sync worker
    closes at once after refusing a body it did not read to the end, and the TCP reset may overtake
    its response (nginx's lingering close prevents that in the full stack).
    """
    connection = http.client.HTTPConnection(gunicorn_server.base_url.removeprefix("http://"), timeout=10)
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


def test_chunked_bodies_are_limited_too(gunicorn_server: Server) -> None:
    user = {"username": "hank", "email": "hank@example.com", "password": "password123"}
    small = post_chunked(gunicorn_server, "/api/users", json.dumps({"user": user}).encode())
    assert small is not None
    assert small[0] == 201, small
    huge = json.dumps(
        {"user": {**user, "username": "ivy", "email": "ivy@example.com"}, "pad": "a" * 2_000_000}
    )
    answer = post_chunked(gunicorn_server, "/api/users", huge.encode())
    if answer is not None:  # the refusal reached the client before the connection was reset
        status, content_type, body = answer
        assert status == 413, body[:300]
        assert content_type.startswith("application/json")
        assert "body" in json.loads(body)["errors"]
    # Either way the cut body was not taken for a whole one: no account was created from it.
    assert gunicorn_server.request("GET", "/api/profiles/ivy").status == 404
    assert gunicorn_server.request("GET", "/api/profiles/hank").status == 200


def test_both_workers_serve(gunicorn_server: Server) -> None:
    """Many requests over fresh connections are all answered (two sync workers share the socket)."""
    for _ in range(20):
        assert gunicorn_server.request("GET", "/api/tags").status == 200


def test_nothing_is_written_to_stdout(gunicorn_server: Server) -> None:
    for path in ("/healthz", "/readyz", "/api/tags", "/api/articles", "/nope"):
        gunicorn_server.request("GET", path)
    gunicorn_server.request("POST", "/api/users", {"user": {}})
    gunicorn_server.request("POST", "/api/users/login", body=None, headers={"Content-Type": "text/plain"})
    gunicorn_server.request("GET", "/api/tags", headers={"X-Request-ID": "stdout-check-1"})
    stop(gunicorn_server.process)
    assert gunicorn_server.process.returncode == 0
    assert gunicorn_server.stdout.read_bytes() == b""
    log = gunicorn_server.stderr.read_text(errors="replace")
    assert "Booting worker" in log  # the logs exist: they went to stderr
    # so did the app's line for each request, with the request id (gunicorn's access log is off: one line
    # per request, not two)
    assert re.search(
        r'INFO \[conduit\.request\] \[stdout-check-1\] 127\.0\.0\.1 "GET /api/tags HTTP/1\.1" 200 ', log
    )
    assert "gunicorn.access" not in log
    assert "Traceback" not in log


def test_production_without_a_secret_key_refuses_to_start(workdir: Path, sqlite_url: str) -> None:
    env = server_env(
        PORT=str(free_port()), WEB_CONCURRENCY="2", CONDUIT_ENV="production", DATABASE_URL=sqlite_url
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
