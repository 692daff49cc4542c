"""The whole topology of `make stack` (bin/stack.py), started and stopped by the tests that need it."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.servers import REPO, server_env
from tests.support.skips import require_or_skip

STACK = [sys.executable, str(REPO / "bin" / "stack.py")]


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Stack:
    directory: Path
    port: int
    app_ports: tuple[int, int]
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app_log(self, port: int) -> str:
        return (self.directory / "log" / f"app-{port}.log").read_text(errors="replace")

    def request_lines(self, port: int) -> list[dict[str, Any]]:
        """The app's ``conduit.request`` lines (the stack runs the production profile: JSON lines)."""
        entries = [json.loads(line) for line in self.app_log(port).splitlines() if line.startswith("{")]
        return [entry for entry in entries if entry["logger"] == "conduit.request"]

    def nginx_log(self) -> str:
        return (self.directory / "log" / "nginx-access.log").read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        source: str = "127.0.0.1",
    ) -> Answer:
        return call(self.port, method, path, body, headers, source)

    def run(self, command: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*STACK, command],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        conn.close()


def stack_env(directory: Path, port: int, app_ports: tuple[int, int], database_url: str) -> dict[str, str]:
    return server_env(
        STACK_DIR=str(directory),
        STACK_PORT=str(port),
        STACK_APP_PORTS=",".join(map(str, app_ports)),
        DATABASE_URL=database_url,
        WEB_CONCURRENCY="2",
        # bin/stack.py runs the production profile; the tests and the browser suite register with
        # password123, which its common-password list refuses (PASSWORD_BLOCKLIST, docs/security.md).
        PASSWORD_BLOCKLIST="false",
    )


def pids_of(directory: Path) -> dict[str, int]:
    manifest = json.loads((directory / "run" / "stack.json").read_text())
    pids = {}
    for component in manifest["components"]:
        pid_file = Path(component["pid_file"])
        if pid_file.exists():
            pids[component["name"]] = int(pid_file.read_text().split()[0])
    return pids


def alive(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())  # a zombie has an empty command line
    except OSError:
        return False


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def require_nginx() -> None:
    """nginx from Debian: installed here when missing and we are root (as `make stack` would)."""
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        return
    if os.geteuid() == 0:
        subprocess.run([str(REPO / "bin" / "system-packages"), "nginx"], check=False, timeout=600)
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        require_or_skip("nginx is not installed (bin/system-packages nginx)")


@contextmanager
def started_stack(
    directory: Path, port: int, app_ports: tuple[int, int], env: dict[str, str]
) -> Iterator[Stack]:
    """``bin/stack.py up`` in *directory*; ``down`` afterwards, which must leave no process and no port."""
    running = Stack(directory, port, app_ports, env)
    started = running.run("up")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"up: {running.url}" in started.stdout
        yield running
    finally:
        pids = pids_of(directory)
        stopped = running.run("down")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not [name for name, pid in pids.items() if alive(pid)], "stack-down left processes"
        assert not [p for p in (port, *app_ports) if listening(p)], "stack-down left ports open"
