"""The Procfile under honcho, as Heroku runs it: the release phase, then the web process on $PORT.

The app directory holds the files a Heroku slug has (Procfile, src/, deploy/, migrations/) and no .env; the
database URL has Heroku's postgres:// scheme. Conduit is also installed in .venv here, so the test cannot
tell whether PYTHONPATH=src is needed; tests/test_deploy_files.py checks that the Procfile sets it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from harness.net import free_port, http_request
from tests.support.databases import postgres_database
from tests.support.processes import Proc, descendants, kill_leftovers
from tests.support.servers import REPO, server_env, stop, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

HONCHO = REPO / ".venv" / "bin" / "honcho"
SLUG_FILES = ("Procfile", "src", "deploy", "migrations")
START_TIMEOUT = 60.0


def slug(root: Path) -> Path:
    app = root / "slug"
    app.mkdir()
    for name in SLUG_FILES:
        (app / name).symlink_to(REPO / name)
    return app


def heroku_env(database_url: str) -> dict[str, str]:
    url = sa.make_url(database_url).set(drivername="postgres").render_as_string(hide_password=False)
    assert url.startswith("postgres://")
    return server_env(
        PATH=f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
        DATABASE_URL=url,
        CONDUIT_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        PROXY_TRUSTED_HOPS="1",
        FORWARDED_ALLOW_IPS="*",
        WEB_CONCURRENCY="2",
    )


def outside_address() -> str:
    """This host's address on its default route (no packet is sent), to reach only a public bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))
        except OSError:
            return "127.0.0.1"
        address: str = sock.getsockname()[0]
        return address


def honcho(app: Path, *args: str) -> list[str]:
    return [str(HONCHO), "--procfile", str(app / "Procfile"), "--app-root", str(app), *args]


def test_release_then_web_answers(pg_server_url: str, tmp_path: Path) -> None:
    app = slug(tmp_path)
    with postgres_database(pg_server_url) as database_url:
        env = heroku_env(database_url)
        release = subprocess.run(
            honcho(app, "start", "release"), cwd=app, env=env, capture_output=True, text=True, timeout=120
        )
        assert release.returncode == 0, release.stdout + release.stderr
        assert "deploy: done" in release.stdout, release.stdout

        again = subprocess.run(
            honcho(app, "start", "release"), cwd=app, env=env, capture_output=True, text=True, timeout=120
        )
        assert "deploy: nothing to do" in again.stdout, again.stdout

        port = free_port()
        log = tmp_path / "web.log"
        with log.open("wb") as out:
            web = subprocess.Popen(
                honcho(app, "start", "web", "--port", str(port)),
                cwd=app,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        seen: set[Proc] = set()
        try:
            base_url = f"http://{outside_address()}:{port}"
            wait_until(
                lambda: http_request(base_url, "GET", "/readyz", timeout=2).status == 200,
                "the web process of the Procfile",
                timeout=START_TIMEOUT,
                alive=lambda: web.poll() is None,
                log=log,
            )
            seen = descendants(web.pid)
            user = {"username": "heroku", "email": "heroku@example.com", "password": "a-long-password-1"}
            assert http_request(base_url, "POST", "/api/users", {"user": user}).status == 201
            assert http_request(base_url, "GET", "/api/tags").json() == {"tags": []}
        finally:
            stop(web)
            kill_leftovers(seen)
