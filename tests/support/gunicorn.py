"""gunicorn with deploy/gunicorn.conf.py on conduit.wsgi:app, its output in files."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.net import Reply, http_request
from tests.support.servers import REPO, stop, wait_until

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
