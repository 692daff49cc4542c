"""What the provisioning scenarios share: HTTP through a host's nginx, waiting, commands on hosts."""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from harness import hosts
from tests.support.load import Load, Outcome, summary


def get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        raw = response.read()
        answer = {name.lower(): value for name, value in response.getheaders()}
    finally:
        conn.close()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw
    return response.status, answer, body


def ready(port: int) -> bool:
    try:
        return get(port, "/readyz", timeout=5)[0] == 200
    except OSError:
        return False


def wait_for(check: Callable[[], bool], timeout: float, what: str, step: float = 0.5) -> float:
    """Seconds until ``check()`` held; fails the test after ``timeout``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(step)
    return time.monotonic() - started


#: How a kept-alive connection that the server closed shows up when a request is sent on it.
STALE_CONNECTION = ("RemoteDisconnected", "ConnectionResetError", "BrokenPipeError")


class ReadLoad(Load):
    """Reads only; a GET sent on a kept-alive connection that the server had closed (nginx's old workers
    close their idle connections on a graceful reload) is sent once more on a new connection, as browsers
    and HTTP libraries do (RFC 9112, 9.3.1). Each such retry is counted in ``stale_retries``; a GET whose
    retry fails too is a failure like any other."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stale_retries = 0

    def _send(
        self, conn: http.client.HTTPConnection, kind: str, method: str, path: str, *rest: Any
    ) -> Outcome:
        reused = conn.sock is not None
        outcome = super()._send(conn, kind, method, path, *rest)
        if (
            reused
            and outcome.status is None
            and method == "GET"
            and outcome.error.startswith(STALE_CONNECTION)
        ):
            conn.close()
            with self._lock:
                self.stale_retries += 1
            return super()._send(conn, kind, method, path, *rest)
        return outcome


def read_load(port: int, max_requests: int = 6000, *, threads: int = 4, pause: float = 0.02) -> ReadLoad:
    """A steady read-only load (by default 4 threads, 20 ms pauses), bounded in count; the caller bounds
    time. The client's timeout (60 s) is above nginx's longest wait (a retry after proxy_read_timeout)."""
    return ReadLoad(port, [], threads=threads, pause=pause, max_requests=max_requests, timeout=60)


def failed(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.ok]


def report(name: str, outcomes: list[Outcome], load: ReadLoad | None = None, **figures: Any) -> str:
    """One line of figures (printed, and the assertion message): sent, failed, statuses, the errors."""
    errors = Counter(f"{o.status} {o.error}"[:120] for o in failed(outcomes))
    extra = {"errors": dict(errors)} if errors else {}
    if load is not None:
        extra["stale_keepalive_retries"] = load.stale_retries
    line = f"{name}: {json.dumps({**summary(outcomes), **extra, **figures})}"
    print(f"\nPROVISIONING {line}")
    return line


def active(fleet: hosts.Fleet, host: str, *units: str) -> dict[str, str]:
    done = fleet.run(host, "systemctl", "is-active", *units)
    return dict(zip(units, done.stdout.split(), strict=False))
