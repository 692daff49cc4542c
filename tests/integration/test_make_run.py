"""`make run`, the README's first command, run as a newcomer runs it: it deploys and then serves.

It uses the virtualenv of the interpreter running the tests, so `make test-system-python` proves the
same command on Debian's own python3 (3.11.2), which needs a lock with every marker branch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.net import free_port, http_request
from tests.support.servers import REPO, server_env, wait_until

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("target", ["run", "dev"])
def test_make_run_deploys_and_serves_the_api_and_the_ui(tmp_path: Path, target: str) -> None:
    """`make dev` is `make run` in the development profile with gunicorn's --reload."""
    port = free_port()
    log = tmp_path / "make-run.log"
    env = server_env(PORT=str(port), DATABASE_URL=f"sqlite:///{tmp_path / 'conduit.db'}")
    env.pop("MAKEFLAGS", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", f"VENV={sys.prefix}", target],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: http_request(base, "GET", "/healthz").status == 200,
            "make run",
            timeout=60,
            alive=lambda: process.poll() is None,
            log=log,
        )
        assert http_request(base, "GET", "/api/tags").json() == {"tags": []}
        page = http_request(base, "GET", "/")
        assert page.status == 200
        assert b"<title>Conduit</title>" in page.body
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make, `conduit serve` and gunicorn: the group we started
        process.wait(timeout=40)
    text = log.read_text()
    assert "Traceback" not in text
    assert ("conduit serve --reload" in text) is (target == "dev")
