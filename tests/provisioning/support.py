"""What the provisioning scenarios share: HTTP through a host's nginx, waiting, commands on hosts."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

from harness import hosts
from tests.integration.load import Load, Outcome, summary


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


def read_load(port: int, max_requests: int = 6000) -> Load:
    """A steady read-only load (4 threads, 20 ms pauses), bounded in count; the caller bounds time."""
    return Load(port, [], threads=4, pause=0.02, max_requests=max_requests, timeout=60)


def failed(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.ok]


def report(name: str, outcomes: list[Outcome], **figures: Any) -> str:
    line = f"{name}: {json.dumps({**summary(outcomes), **figures})}"
    print(f"\nPROVISIONING {line}")
    return line


def active(fleet: hosts.Fleet, host: str, *units: str) -> dict[str, str]:
    done = fleet.run(host, "systemctl", "is-active", *units)
    return dict(zip(units, done.stdout.split(), strict=False))
