"""The topology of ``make stack`` driven for real: nginx, two gunicorn instances, PostgreSQL, Redis.

One stack is started by ``bin/stack.py up`` in a directory and on ports of its own for the module, and
stopped by ``bin/stack.py down`` at the end, which must leave nothing running.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conduit.edge.headers import UI_POLICY
from conduit.ops.nginx_config import (
    STATIC_ROOT,
    NginxTarget,
    StandaloneNginx,
    worker_user_for,
    write_standalone,
)
from harness.net import free_port
from tests.support.databases import postgres_database
from tests.support.servers import server_env, wait_until
from tests.support.skips import require_or_skip
from tests.support.stack import (
    STACK,
    Stack,
    alive,
    call,
    listening,
    pids_of,
    require_nginx,
    stack_env,
    started_stack,
)

pytestmark = pytest.mark.slow

LIMIT = 1024 * 1024  # the app's MAX_CONTENT_LENGTH, which nginx must share
OTHER_CLIENT = "127.0.0.2"  # a second loopback address: a client that is not nginx's own address


@pytest.fixture(scope="module")
def stack(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_nginx()
    directory = tmp_path_factory.mktemp("stack")
    port, app_ports = free_port(), (free_port(), free_port())
    with postgres_database(pg_server_url) as database_url:
        env = stack_env(directory, port, app_ports, database_url)
        with started_stack(directory, port, app_ports, env) as running:
            yield running


def test_up_twice_starts_no_duplicates(stack: Stack) -> None:
    before = pids_of(stack.directory)
    again = stack.run("up")
    assert again.returncode == 0
    assert "already running" in again.stdout
    assert pids_of(stack.directory) == before
    status = stack.run("status")
    assert status.returncode == 0, status.stdout
    assert f"{stack.url}/readyz -> 200" in status.stdout


def test_static_files_come_precompressed_with_cache_headers(stack: Stack) -> None:
    source = next((STATIC_ROOT / "assets").glob("conduit.*.css"))  # the web UI's fingerprinted build
    path = f"/static/assets/{source.name}"
    zipped = stack.request("GET", path, headers={"Accept-Encoding": "gzip"})
    assert zipped.status == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    # gzip_static sends the .gz file as it is, with its length; on-the-fly gzip would be chunked.
    assert int(zipped.headers["Content-Length"]) == source.with_name(source.name + ".gz").stat().st_size
    assert gzip.decompress(zipped.body) == source.read_bytes()
    assert zipped.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert zipped.headers["ETag"]
    assert "Accept-Encoding" in zipped.headers["Vary"]

    plain = stack.request("GET", path)
    assert plain.status == 200
    assert "Content-Encoding" not in plain.headers
    assert plain.body == source.read_bytes()

    icon = stack.request("GET", "/static/favicon.svg")
    assert icon.status == 200
    assert icon.headers["Cache-Control"] == "public, max-age=3600"

    page = stack.request("GET", "/")
    assert page.status == 200
    assert b"<title>Conduit</title>" in page.body
    assert page.headers["Cache-Control"] == "no-cache"
    deep_link = stack.request("GET", "/article/some-slug")
    assert (deep_link.status, deep_link.body) == (200, page.body)
    assert deep_link.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["/no/such/page", "/profile/a/b/c", "/static/assets/main.000000000000.js", "/assets/", "/apix"]
)
def test_nginx_answers_an_unknown_page_with_the_ui_and_404(stack: Stack, path: str) -> None:
    answer = stack.request("GET", path, headers={"Accept-Encoding": "gzip"})
    assert answer.status == 404
    assert answer.headers["Content-Type"] == "text/html"
    assert answer.headers["Cache-Control"] == "no-cache"
    assert answer.headers["Content-Security-Policy"] == UI_POLICY
    body = gzip.decompress(answer.body) if answer.headers.get("Content-Encoding") == "gzip" else answer.body
    assert body == (STATIC_ROOT / "index.html").read_bytes()
    assert stack.request("HEAD", path).status == 404


@pytest.mark.parametrize("path", ["/api/no/such/thing", "/api/profiles/a/b/c"])
def test_nginx_passes_the_apis_json_404_through(stack: Stack, path: str) -> None:
    answer = stack.request("GET", path)
    assert answer.status == 404
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"errors": {"route": [f"no route matches GET {path}"]}}


def register(stack: Stack, name: str) -> str:
    body = {"user": {"username": name, "email": f"{name}@example.com", "password": "password123"}}
    answer = stack.request(
        "POST", "/api/users", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    assert answer.status == 201, answer.body
    token: str = answer.json()["user"]["token"]
    return token


def test_the_api_answers_with_gzip_json(stack: Stack) -> None:
    token = register(stack, f"writer{uuid.uuid4().hex[:8]}")
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    for number in range(3):
        article = {"title": f"Through nginx {number}", "description": "d" * 100, "body": "b" * 200}
        created = stack.request("POST", "/api/articles", json.dumps({"article": article}).encode(), headers)
        assert created.status == 201, created.body

    listed = stack.request("GET", "/api/articles", headers={"Accept-Encoding": "gzip"})
    assert listed.status == 200
    assert listed.headers["Content-Type"] == "application/json"
    assert listed.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(listed.body))["articlesCount"] >= 3


def test_the_app_logs_the_real_client_and_nginx_request_id(stack: Stack) -> None:
    # The client claims another address; with one trusted hop the app believes only nginx.
    spoofed = {"X-Forwarded-For": "203.0.113.66"}
    sent = stack.request(
        "GET", "/api/tags", headers={**spoofed, "X-Request-ID": "client-id-1"}, source=OTHER_CLIENT
    )
    assert sent.status == 200
    assert sent.headers["X-Request-ID"] == "client-id-1"

    generated = stack.request("GET", "/api/tags", headers=spoofed, source=OTHER_CLIENT)
    request_id = generated.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's $request_id

    def app_logs() -> str:
        return stack.app_log(stack.app_ports[0]) + stack.app_log(stack.app_ports[1])

    def request_line(rid: str) -> dict[str, Any] | None:
        lines = stack.request_lines(stack.app_ports[0]) + stack.request_lines(stack.app_ports[1])
        return next((entry for entry in lines if entry["request_id"] == rid), None)

    for rid in ("client-id-1", request_id):
        # both servers write their log line after the response has gone: wait for it
        wait_until(lambda rid=rid: request_line(rid) is not None, f"app request line {rid}", 10)
        line = request_line(rid)
        assert line is not None
        assert (line["client_ip"], line["method"], line["path"], line["status"]) == (
            OTHER_CLIENT,
            "GET",
            "/api/tags",
            200,
        )
        nginx_line = rf'^{re.escape(OTHER_CLIENT)} .* "GET /api/tags HTTP/1.1" 200 .* rid={rid}$'
        wait_until(lambda p=nginx_line: bool(re.search(p, stack.nginx_log(), re.M)), f"nginx line {rid}", 10)
    assert "203.0.113.66" not in app_logs()


def test_both_upstreams_receive_traffic(stack: Stack) -> None:
    ids = [f"spread-{uuid.uuid4().hex[:8]}-{n}" for n in range(12)]
    for rid in ids:
        assert stack.request("GET", "/api/tags", headers={"X-Request-ID": rid}).status == 200

    def served() -> list[int]:
        return [
            sum(entry["request_id"] in ids for entry in stack.request_lines(port)) for port in stack.app_ports
        ]

    wait_until(lambda: sum(served()) == len(ids), "an access line for every request", 10)
    assert all(count >= 2 for count in served()), served()


def test_a_body_over_the_limit_gets_413_json_and_creates_nothing(stack: Stack) -> None:
    name = f"huge{uuid.uuid4().hex[:8]}"
    user = {"username": name, "email": f"{name}@example.com", "password": "password123", "bio": "x" * LIMIT}
    body = json.dumps({"user": user}).encode()
    answer = stack.request("POST", "/api/users", body, {"Content-Type": "application/json"})
    assert answer.status == 413
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"errors": {"body": [f"is larger than the limit of {LIMIT} bytes"]}}
    # chunked: no Content-Length for nginx to check up front; it counts as the body arrives
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=15)
    try:
        chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
        conn.request(
            "POST",
            "/api/users",
            body=chunks,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        chunked = conn.getresponse()
        assert chunked.status == 413
        assert json.loads(chunked.read())["errors"]["body"] == [f"is larger than the limit of {LIMIT} bytes"]
    finally:
        conn.close()
    login = {"user": {"email": f"{name}@example.com", "password": "password123"}}
    refused = stack.request(
        "POST", "/api/users/login", json.dumps(login).encode(), {"Content-Type": "application/json"}
    )
    assert refused.status == 401


def test_metrics_are_refused_to_addresses_off_the_allowlist(stack: Stack) -> None:
    refused = stack.request("GET", "/metrics", source=OTHER_CLIENT)
    assert refused.status == 403
    assert refused.json() == {"errors": {"request": ["is not allowed from this address"]}}
    allowed = stack.request("GET", "/metrics")  # loopback: passed on to the app
    assert allowed.status != 403


@pytest.fixture
def private_nginx(tmp_path: Path) -> Iterator[Callable[[NginxTarget], StandaloneNginx]]:
    """A second nginx from the same templates, for targets the running stack does not cover."""
    require_nginx()
    prefix = tmp_path / "nginx"
    processes: list[Path] = []

    def start(site: NginxTarget) -> StandaloneNginx:
        nginx = StandaloneNginx(prefix=prefix, site=site, user=worker_user_for(STATIC_ROOT, prefix))
        conf = write_standalone(nginx)
        command = [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(prefix), "-c", str(conf)]
        subprocess.run([*command, "-e", str(nginx.error_log)], check=True, capture_output=True, timeout=10)
        processes.append(nginx.pid_file)
        return nginx

    yield start
    for pid_file in processes:
        if pid_file.exists():
            pid = int(pid_file.read_text())
            os.kill(pid, 3)  # SIGQUIT: nginx's graceful stop
            wait_until(lambda pid=pid: not alive(pid), "nginx stopping", 10)


def test_with_every_upstream_down_the_client_gets_502_json(
    private_nginx: Callable[[NginxTarget], StandaloneNginx], tmp_path: Path
) -> None:
    start = private_nginx
    port = free_port()
    dead = (f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}")
    logs = {"access_log": str(tmp_path / "access.log"), "error_log": str(tmp_path / "error.log")}
    start(NginxTarget(upstreams=dead, http_port=port, **logs))
    wait_until(lambda: listening(port), "private nginx", 10)
    answer = call(port, "GET", "/api/articles")
    assert answer.status == 502
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Retry-After"] == "5"
    assert answer.json() == {"errors": {"server": ["is unavailable; retry later"]}}
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])
    # the retry went to the other server before giving up
    tried = "upstream=" + ", ".join(dead)
    wait_until(lambda: tried in Path(logs["access_log"]).read_text(), "nginx's access line", 10)


def test_the_tls_variant_redirects_and_sends_hsts(
    stack: Stack, private_nginx: Callable[[NginxTarget], StandaloneNginx], tmp_path: Path
) -> None:
    start = private_nginx
    cert, key = self_signed_certificate(tmp_path)
    http_port, tls_port = free_port(), free_port()
    start(
        NginxTarget(
            upstreams=tuple(f"127.0.0.1:{p}" for p in stack.app_ports),
            http_port=http_port,
            tls=True,
            tls_port=tls_port,
            certificate=str(cert),
            certificate_key=str(key),
            acme_root=str(tmp_path),
            access_log=str(tmp_path / "access.log"),
            error_log=str(tmp_path / "error.log"),
        )
    )
    wait_until(lambda: listening(tls_port), "TLS nginx", 10)
    moved = call(http_port, "GET", "/api/tags?x=1")
    assert moved.status == 301
    assert moved.headers["Location"] == f"https://127.0.0.1:{tls_port}/api/tags?x=1"

    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    # A handshake for a name nginx does not serve (or none: an IP address sends no SNI) is refused.
    for name in ("evil.example", "127.0.0.1"):
        with (
            socket.create_connection(("127.0.0.1", tls_port), timeout=15) as raw,
            pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"),
        ):
            context.wrap_socket(raw, server_hostname=None if name[0].isdigit() else name)
    conn = http.client.HTTPSConnection("localhost", tls_port, context=context, timeout=15)
    try:
        conn.request("GET", "/api/tags")
        response = conn.getresponse()
        assert response.status == 200
        assert "tags" in json.loads(response.read())
        assert response.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    finally:
        conn.close()


def test_a_port_in_use_stops_the_stack_before_anything_starts(tmp_path: Path, pg_server_url: str) -> None:
    require_nginx()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        env = stack_env(tmp_path, taken, (free_port(), free_port()), "postgresql://postgres@127.0.0.1:1/none")
        result = subprocess.run(
            [*STACK, "up"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == (
        f"stack: error: port {taken} is in use; set STACK_PORT / STACK_APP_PORTS or free it"
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "run" / "stack.json").exists()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        require_or_skip("openssl is not installed (needed for a self-signed certificate)")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_the_rendered_production_site_passes_nginx_t_in_debians_nginx_conf(tmp_path: Path) -> None:
    """What the runbook does: `conduit nginx-config --tls ...` into sites-enabled of the stock nginx.conf."""
    require_nginx()
    stock = Path("/etc/nginx/nginx.conf")
    if not stock.exists():
        require_or_skip("Debian's /etc/nginx/nginx.conf is missing")
    cert, key = self_signed_certificate(tmp_path)
    site = tmp_path / "conduit.conf"
    command = [str(Path(sys.executable).with_name("conduit")), "nginx-config", "--tls", "--server-name"]
    command += ["example.com", "--listen", "0.0.0.0", "--listen", "[::]", "--port", "80"]
    command += ["--certificate", str(cert), "--certificate-key", str(key), "--output", str(site)]
    command += ["--access-log", str(tmp_path / "access.log"), "--error-log", str(tmp_path / "error.log")]
    rendered = subprocess.run(
        command, capture_output=True, text=True, timeout=30, env=server_env(), check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    text = site.read_text()
    assert f"client_max_body_size {LIMIT};" in text
    assert "server 127.0.0.1:8001 " in text
    assert "server 127.0.0.1:8002 " in text
    assert "return 301 https://$host$request_uri;" in text

    main = stock.read_text().replace("/etc/nginx/sites-enabled/*", str(site))
    main = main.replace("/run/nginx.pid", str(tmp_path / "nginx.pid"))
    (tmp_path / "nginx.conf").write_text(main)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "startup-error.log")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_without_servers_the_stack_runs_private_postgres_and_redis() -> None:
    """DATABASE_URL and REDIS_URL do not answer: a private initdb cluster and redis-server under STACK_DIR."""
    require_nginx()
    if not shutil.which("redis-server"):
        require_or_skip("redis-server is not installed")
    if not (shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))):
        require_or_skip("initdb is not installed (apt-get install postgresql)")
    # PostgreSQL runs as the postgres user, which must reach the cluster (pytest's tmp dirs are 0700).
    directory = Path(tempfile.mkdtemp(prefix="conduit-private-stack-"))
    directory.chmod(0o755)
    port, app_ports = free_port(), (free_port(), free_port())
    env = stack_env(directory, port, app_ports, "postgresql://postgres@127.0.0.1:1/conduit_stack")
    env.update(REDIS_URL="redis://127.0.0.1:1/0", WEB_CONCURRENCY="1")
    running = Stack(directory, port, app_ports, env)
    started = running.run("up")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "creating a private cluster" in started.stdout
        assert "starting a private redis-server" in started.stdout
        ready = running.request("GET", "/readyz")
        assert ready.status == 200
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["redis"] == "ok"
        token = register(running, "private")
        assert token
    finally:
        pids = pids_of(directory)
        stopped = running.run("down")
        if stopped.returncode == 0:
            shutil.rmtree(directory, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stdout
    assert {"postgresql", "redis", "nginx"} <= set(pids)
    assert not [name for name, pid in pids.items() if alive(pid)]


def raw_get(port: int, path: str, host: str) -> bytes:
    """The bytes nginx answers to one GET with this Host header (b"" when it closes unanswered)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_nginx_closes_unknown_hosts_and_redirects_relatively(
    private_nginx: Callable[[NginxTarget], StandaloneNginx], tmp_path: Path
) -> None:
    """Issue 14, finding 9: a directory redirect used to send ``Location: http://evil.example/...``."""
    port = free_port()
    dead = (f"127.0.0.1:{free_port()}",)
    logs = {"access_log": str(tmp_path / "access.log"), "error_log": str(tmp_path / "error.log")}
    private_nginx(NginxTarget(upstreams=dead, http_port=port, **logs))
    wait_until(lambda: listening(port), "private nginx", 10)
    for path in ("/static/assets", "/api//tags", "/"):
        assert raw_get(port, path, "evil.example") == b"", path
    answer = raw_get(port, "/static/assets", f"127.0.0.1:{port}").decode("latin-1")
    assert answer.startswith("HTTP/1.1 301"), answer[:200]
    assert re.search(r"^Location: /static/assets/\r$", answer, re.MULTILINE), answer[:400]
    assert raw_get(port, "/", f"localhost:{port}").startswith(b"HTTP/1.1 200")
