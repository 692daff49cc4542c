"""Every entry point refuses a broken configuration in one line that names the setting (conduit.startup):
``conduit serve``, ``conduit deploy`` and gunicorn alike, run as a user runs them."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conduit.settings import load_settings
from tests.support.servers import REPO, server_env

CONDUIT = str(Path(sys.executable).with_name("conduit"))
GUNICORN_CONF = REPO / "deploy" / "gunicorn.conf.py"


def run(args: list[str], tmp_path: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    environment = server_env(**{"DATABASE_URL": f"sqlite:///{tmp_path / 'conduit.db'}", **env})
    return subprocess.run(
        args, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


def one_line_naming(result: subprocess.CompletedProcess[str], setting: str) -> str:
    output = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 4, (result.returncode, output)
    assert len(output) == 1, output
    assert output[0].startswith(f"conduit: refusing to start: {setting}:"), output
    assert "Traceback" not in output[0]
    return output[0]


@pytest.mark.parametrize("command", [["serve"], ["deploy"]])
def test_a_malformed_database_url_is_one_line(tmp_path: Path, command: list[str]) -> None:
    result = run([CONDUIT, *command], tmp_path, DATABASE_URL="notaurl")
    assert "is not a database URL" in one_line_naming(result, "DATABASE_URL")


def test_the_url_never_shows_its_password(tmp_path: Path) -> None:
    result = run([CONDUIT, "deploy"], tmp_path, DATABASE_URL="mysql://u:hunter2@db/x")
    line = one_line_naming(result, "DATABASE_URL")
    assert "hunter2" not in line
    assert "mysql is not supported" in line


def test_a_malformed_redis_url_is_one_line(tmp_path: Path) -> None:
    result = run([CONDUIT, "serve"], tmp_path, REDIS_URL="http://cache:6379")
    one_line_naming(result, "REDIS_URL")


def test_deploy_on_a_missing_database_says_create_it(tmp_path: Path, pg_server_url: str) -> None:
    missing = pg_server_url.rsplit("/", 1)[0] + "/conduit_does_not_exist_here"
    result = run([CONDUIT, "deploy"], tmp_path, DATABASE_URL=missing)
    line = one_line_naming(result, "DATABASE_URL")
    assert "does not exist" in line
    assert "createdb conduit_does_not_exist_here" in line


def test_deploy_on_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = run([CONDUIT, "deploy"], tmp_path, DATABASE_URL=f"postgresql://u@127.0.0.1:{port}/x")
    assert f"cannot connect to 127.0.0.1:{port}" in one_line_naming(result, "DATABASE_URL")


@pytest.mark.slow
def test_gunicorn_on_a_port_in_use_says_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run([CONDUIT, "deploy"], tmp_path)
        result = run(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(REPO / "deploy" / "gunicorn.conf.py"),
                "conduit.wsgi:app",
            ],
            tmp_path,
            PORT=str(port),
        )
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 4, lines
    assert [line for line in lines if "refusing" in line] == [
        f"conduit: refusing to start: PORT: 127.0.0.1:{port} is already in use; pick another one, "
        f"e.g. PORT={port + 1}"
    ]
    assert not any("Traceback" in line or "Connection in use" in line for line in lines), lines


@pytest.mark.parametrize(("flags", "shows_migrations"), [([], False), (["-v"], True)])
def test_deploy_is_quiet_unless_verbose(tmp_path: Path, flags: list[str], shows_migrations: bool) -> None:
    result = run([CONDUIT, "deploy", *flags], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("deploy: migrated the database")
    assert ("Running upgrade" in result.stdout + result.stderr) is shows_migrations


def test_the_redis_prefix_follows_the_database(tmp_path: Path) -> None:
    one = load_settings(conduit_env="testing", database_url="postgresql://a@db1:5432/blog")
    same = load_settings(conduit_env="testing", database_url="postgresql://other:secret@db1:5432/blog")
    other = load_settings(conduit_env="testing", database_url="postgresql://a@db1:5432/shop")
    assert one.redis_key_prefix == same.redis_key_prefix  # credentials do not matter
    assert one.redis_key_prefix != other.redis_key_prefix
    chosen = load_settings(conduit_env="testing", redis_key_prefix="blue:")
    assert chosen.redis_key_prefix == "blue:"
