"""deploy/docker/entrypoint.sh outside Docker: it waits for PostgreSQL, migrates, execs the image's CMD;
and deploy/docker/nginx-site.sh, compose's renderer of nginx's configuration.

The image's ENTRYPOINT and CMD are read from the Dockerfile and run as written, with /app (the image's
working directory) stood in for by a directory holding this checkout's deploy/ and .venv; the programs come
from PATH as in the image.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from conduit.storage import migrations as migrate
from harness.net import free_port, http_request
from tests.support.processes import Proc, app_directory, descendants, kill_leftovers
from tests.support.servers import REPO, server_env, stop, wait_until
from tests.support.skips import require_or_skip

DOCKERFILE = REPO / "Dockerfile"
IMAGE_WORKDIR = "/app"
START_TIMEOUT = 60.0


def dockerfile_json(instruction: str) -> list[str]:
    """The exec-form arguments of the last ENTRYPOINT or CMD of the Dockerfile."""
    lines = re.findall(rf"^{instruction} (\[.*\])$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert lines, f"no exec-form {instruction} in the Dockerfile"
    value: list[str] = json.loads(lines[-1])
    return value


def image_command(app: Path) -> list[str]:
    entrypoint = [part.replace(IMAGE_WORKDIR + "/", f"{app}/", 1) for part in dockerfile_json("ENTRYPOINT")]
    return [*entrypoint, *dockerfile_json("CMD")]


class Forwarder:
    """A TCP port that refuses connections until :meth:`open`, then forwards them to *target*."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.port = free_port()
        self.target = target
        self.sockets: list[socket.socket] = []

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self.sockets.append(listener)
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target, timeout=5)
            server.settimeout(None)
            self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            return

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def scratch_database(pg_server_url: str) -> Iterator[sa.URL]:
    name = f"conduit_test_entrypoint_{os.getpid()}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(pg_server_url).set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def entrypoint_env(app: Path, database_url: str, **values: str) -> dict[str, str]:
    return server_env(
        PATH=f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
        CONDUIT_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=database_url,
        HOME=str(app),
        **values,
    )


@pytest.mark.slow
@pytest.mark.postgres
def test_waits_for_the_database_migrates_and_execs_the_server(
    scratch_database: sa.URL, tmp_path: Path
) -> None:
    app = app_directory(tmp_path)
    forwarder = Forwarder((scratch_database.host or "127.0.0.1", scratch_database.port or 5432))
    through_forwarder = scratch_database.set(host="127.0.0.1", port=forwarder.port)
    port = free_port()
    env = entrypoint_env(
        app,
        through_forwarder.render_as_string(hide_password=False),
        RUN_MIGRATIONS="1",
        DB_WAIT_ATTEMPTS="100",
        DB_WAIT_INTERVAL="0.2",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
    )
    stderr = tmp_path / "stderr.log"
    with stderr.open("wb") as err:
        process = subprocess.Popen(image_command(app), cwd=app, env=env, stdout=err, stderr=err)
    seen: set[Proc] = set()
    try:
        wait_until(lambda: "does not answer (attempt 2/100)" in stderr.read_text(), "waiting", log=stderr)
        forwarder.open()
        base_url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: http_request(base_url, "GET", "/readyz", timeout=2).status == 200,
            "the server behind the entrypoint",
            timeout=START_TIMEOUT,
            alive=lambda: process.poll() is None,
            log=stderr,
        )
        seen = descendants(process.pid)
        assert "gunicorn" in " ".join(Proc.of(process.pid).cmdline()), "the entrypoint did not exec"
        user = {"username": "ep", "email": "ep@example.com", "password": "a-long-password-1"}
        assert http_request(base_url, "POST", "/api/users", {"user": user}).status == 201
        engine = sa.create_engine(scratch_database)
        try:
            assert migrate.current_revision(engine) == migrate.head_revision(engine)
        finally:
            engine.dispose()
        log = stderr.read_text()
        assert "answers" in log
        assert "RUN_MIGRATIONS=1: conduit deploy" in log
    finally:
        stop(process)
        kill_leftovers(seen)
        forwarder.close()


def test_gives_up_after_bounded_retries_with_a_clear_message_without_the_password(tmp_path: Path) -> None:
    app = app_directory(tmp_path)
    marker = tmp_path / "command-ran"
    unreachable = f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/conduit"
    env = entrypoint_env(app, unreachable, RUN_MIGRATIONS="1", DB_WAIT_ATTEMPTS="3", DB_WAIT_INTERVAL="0.2")
    entrypoint = image_command(app)[0]
    started = time.monotonic()
    result = subprocess.run(
        [entrypoint, "touch", str(marker)], cwd=app, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("does not answer (attempt") == 3
    assert "giving up" in result.stderr
    assert "did not answer after 3 attempts" in result.stderr
    assert "conduit deploy" not in result.stderr
    assert "s3cret-pw" not in result.stderr
    assert not marker.exists()
    assert time.monotonic() - started < 30


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        require_or_skip("nginx is not installed (Debian package nginx: bin/system-packages nginx)")
    return found


def test_nginx_site_renders_a_configuration_nginx_accepts_and_copies_the_static_files(tmp_path: Path) -> None:
    app = app_directory(tmp_path)
    site = tmp_path / "site"
    (site / "conf.d").mkdir(parents=True)
    (site / "static").mkdir()
    (site / "static" / "stale.txt").write_text("from the last release")
    env = entrypoint_env(app, "sqlite:///unused.db", NGINX_SITE_DIR=str(site))
    result = subprocess.run(
        [str(app / "deploy" / "docker" / "nginx-site.sh")],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (site / "static" / "index.html").is_file()
    assert not (site / "static" / "stale.txt").exists()
    conf = (site / "conf.d" / "conduit.conf").read_text()
    assert "server app:8000 " in conf
    # nginx -t resolves upstream names, and `app` only exists on compose's network.
    (site / "conf.d" / "conduit.conf").write_text(conf.replace("server app:8000 ", "server 127.0.0.1:8000 "))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\n"
        f"http {{\n    include /etc/nginx/mime.types;\n    include {site}/conf.d/*.conf;\n}}\n"
    )
    check = subprocess.run(
        [nginx_binary(), "-t", "-p", str(tmp_path), "-e", "stderr", "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr
