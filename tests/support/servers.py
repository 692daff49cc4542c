"""What the tests that drive real server processes share: ports, environments, HTTP calls, stopping."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


#: Variables of the developer's shell that would change what a server started by a test does.
SCRUBBED = (
    "SECRET_KEY",
    "DEBUG",
    "TESTING",
    "CONDUIT_CONFIG_FILE",
    "CONDUIT_ADMIN_EMAIL",
    "GUNICORN_BIND",
    "HOST",
    "GUNICORN_CMD_ARGS",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "LOG_REQUESTS",
    "LOG_STDERR",
    "LOG_DIR",
    "LOG_SYSLOG_ADDRESS",
    "ADMINS",
    "MAIL_SERVER",
    "REDIS_URL",
    "REDIS_KEY_PREFIX",
    "REDIS_TIMEOUT",
    "REDIS_BACKOFF_SECONDS",
    "TAGS_CACHE_SECONDS",
    "TOKEN_CACHE_SECONDS",
    "PROXY_TRUSTED_HOPS",
    "WEB_CONCURRENCY",
    "CONDUIT_UWSGI_PORT",
    "CONDUIT_UWSGI_SOCKET",
    "METRICS_PORT",
    "PROMETHEUS_MULTIPROC_DIR",
    "CONDUIT_OWN_METRICS_DIR",
)


def server_env(**values: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in SCRUBBED}
    env.update(values)
    return env


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process we started, by its PID: politely first, then for good."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_until(
    answers: Callable[[], bool],
    what: str,
    timeout: float = 15.0,
    alive: Callable[[], bool] | None = None,
    log: Path | None = None,
) -> None:
    """Poll *answers* until true; fail with the tail of *log* if *alive* turns false or time runs out."""
    deadline = time.monotonic() + timeout
    last_error = "no attempt"

    def tail() -> str:
        return "" if log is None or not log.exists() else log.read_text(errors="replace")[-3000:]

    while time.monotonic() < deadline:
        if alive is not None and not alive():
            pytest.fail(f"{what}: the process exited before answering:\n{tail()}")
        try:
            if answers():
                return
        except OSError as error:
            last_error = str(error)
        time.sleep(0.2)
    pytest.fail(f"{what}: no answer within {timeout:.0f} s ({last_error}):\n{tail()}")
