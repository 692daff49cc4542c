"""What the fault tests share (tests/integration/test_faults.py): the stack they drive, by its pid files
and its private PostgreSQL and Redis; the checks on what the load driver recorded; the results file that
bin/reliability_table.py turns into the table of docs/reliability.md."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from harness.net import http_request
from tests.support.load import ARTICLE, COMMENT, Load, Outcome, Writer, summary
from tests.support.processes import Proc, children_of
from tests.support.servers import REPO, wait_until
from tests.support.skips import require_or_skip

STACK = [sys.executable, str(REPO / "bin" / "stack.py")]
CONDUIT = str(Path(sys.executable).with_name("conduit"))
RESULTS = Path(os.environ.get("CONDUIT_RELIABILITY_RESULTS", REPO / "var" / "reliability" / "results.json"))
DEAD = "127.0.0.1:1"  # nothing answers here: the stack makes its own PostgreSQL and Redis


@dataclass
class FaultStack:
    directory: Path
    port: int
    app_ports: tuple[int, int]
    env: dict[str, str]
    respawned: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*STACK, command], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )

    def nginx_errors(self) -> str:
        """The tail of nginx's error log, for a failure's message."""
        log = self.directory / "log" / "nginx-error.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""

    def app_errors(self) -> str:
        """The app's ERROR lines (JSON in production), for a failure's message."""
        lines = []
        for port in self.app_ports:
            log = self.directory / "log" / f"app-{port}.log"
            text = log.read_text(errors="replace") if log.exists() else ""
            lines += [line[:1500] for line in text.splitlines() if '"exc_info"' in line]
        return "\n".join(lines[-8:])

    def access_log_size(self) -> int:
        return (self.directory / "log" / "nginx-access.log").stat().st_size

    def nginx_served_by(self, port: int, since: int) -> bool:
        """Whether nginx's access log, after byte *since*, shows a 2xx answered by the app on *port*."""
        with (self.directory / "log" / "nginx-access.log").open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        return re.search(rf'" 2\d\d .* upstream=127\.0\.0\.1:{port} ', text) is not None

    def settle(self, timeout: float = 20) -> None:
        """Wait until nginx sends requests to every app server again: after a failure it sets a server
        aside for fail_timeout (5 s), even once it answers, and answers 502 while it has none."""
        since = self.access_log_size()

        def both_used() -> bool:
            http_request(self.url, "GET", "/healthz", timeout=5)
            return all(self.nginx_served_by(port, since) for port in self.app_ports)

        wait_until(both_used, "nginx using both app servers", timeout)

    def pid_file(self, name: str) -> Path:
        for component in json.loads((self.directory / "run" / "stack.json").read_text())["components"]:
            if component["name"] == name:
                return Path(component["pid_file"])
        raise AssertionError(f"{name} is not in the stack's manifest")

    def master(self, port: int) -> Proc:
        return Proc.of(int(self.pid_file(f"gunicorn :{port}").read_text().split()[0]))

    def workers(self, port: int) -> set[Proc]:
        return children_of(self.master(port).pid)

    def ready(self, port: int) -> bool:
        return http_request(f"http://127.0.0.1:{port}", "GET", "/readyz", timeout=3).status == 200

    def respawn(self, servers: dict[int, tuple[dict[str, str], str]]) -> dict[int, Proc]:
        """What a service manager does after a stop or a crash: start the same `conduit serve` again,
        for each port with the environment and directory it had; returns the new masters once ready."""
        started = {}
        for port, (environ, cwd) in servers.items():
            with (self.directory / "log" / f"app-{port}.log").open("ab") as log:
                started[port] = subprocess.Popen(
                    [CONDUIT, "serve"],
                    cwd=cwd,
                    env=environ,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            self.respawned.append(started[port])
            self.pid_file(f"gunicorn :{port}").write_text(f"{started[port].pid}\n")
        for port, process in started.items():
            wait_until(
                partial(self.ready, port), f"gunicorn :{port} again", 30, alive=partial(running, process)
            )
        return {port: Proc.of(process.pid) for port, process in started.items()}

    # --- the private PostgreSQL cluster -------------------------------------------------------------

    @property
    def pgdata(self) -> Path:
        return self.directory / "stack" / "pgdata"

    @property
    def pg_port(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().splitlines()[3])

    def pg_ctl(self, *args: str) -> None:
        pg_ctl = shutil.which("pg_ctl") or sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        command = [*as_user, str(pg_ctl), "-D", str(self.pgdata), "-w", "-t", "30", *args]
        subprocess.run(command, check=True, capture_output=True, timeout=40)

    def database(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.pg_port}/conduit_stack", connect_timeout=5
        )


def process_environ(proc: Proc) -> tuple[dict[str, str], str]:
    raw = Path(f"/proc/{proc.pid}/environ").read_bytes()
    environ = dict(entry.decode().split("=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    return environ, os.readlink(f"/proc/{proc.pid}/cwd")


def running(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def require_tools() -> None:
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        require_or_skip("nginx is not installed (bin/system-packages nginx)")
    if not shutil.which("redis-server"):
        require_or_skip("redis-server is not installed")
    if not (shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))):
        require_or_skip("initdb is not installed (apt-get install postgresql)")


def register(stack: FaultStack, name: str) -> Writer:
    user = {
        "username": name,
        "email": f"{name}@example.com",
        "password": "fault-scenario-pw-16",
    }  # not on the common list
    answer = http_request(stack.url, "POST", "/api/users", {"user": user})
    assert answer.status == 201, answer.body
    token = answer.json()["user"]["token"]
    article = {"title": f"seed {name}", "description": "seed", "body": "seed"}
    created = http_request(
        stack.url, "POST", "/api/articles", {"article": article}, {"Authorization": f"Token {token}"}
    )
    assert created.status == 201, created.body
    return Writer(token, created.json()["article"]["slug"])


def record(scenario: str, outcomes: list[Outcome], saw: str, **figures: Any) -> None:
    """Add this scenario's measured row to the results file (bin/reliability_table.py renders it)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        results = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        results = {}
    results[scenario] = {
        **summary(outcomes),
        "saw": saw,
        **figures,
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": f"{socket.gethostname()}, {os.cpu_count()} cores",
    }
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def statuses(outcomes: list[Outcome]) -> str:
    counts = summary(outcomes)["statuses"]
    return ", ".join(f"{status} x{count}" for status, count in counts.items())


def assert_acknowledged_writes_exist_once(stack: FaultStack, load: Load) -> tuple[int, int]:
    """Every write the client was told succeeded (201) is in the database exactly once, and nothing
    the driver sent is there twice. Returns (acknowledged, stored) for the driver's writes."""
    prefix = f"load {load.tag}-"
    with stack.database() as conn:
        titles = conn.execute(
            "SELECT title, count(*) FROM articles WHERE title LIKE %s GROUP BY title", (prefix + "%",)
        ).fetchall()
        comments = conn.execute(
            "SELECT body, count(*), min(id) FROM comments WHERE body LIKE %s GROUP BY body",
            (f"comment {load.tag}-%",),
        ).fetchall()
    stored_articles: dict[str, int] = dict(titles)
    stored_comments = {body: (count, str(first)) for body, count, first in comments}
    assert not [t for t, c in stored_articles.items() if c != 1], "an article was stored twice"
    assert not [b for b, (c, _) in stored_comments.items() if c != 1], "a comment was stored twice"
    acknowledged = [o for o in load.outcomes if o.status == 201]
    for outcome in acknowledged:
        if outcome.kind == ARTICLE:
            assert outcome.key in stored_articles, f"acknowledged but lost: {outcome}"
            read = http_request(stack.url, "GET", f"/api/articles/{outcome.created}")
            assert read.status == 200, read.body
            assert read.json()["article"]["title"] == outcome.key
        elif outcome.kind == COMMENT:
            assert stored_comments.get(outcome.key, (0, ""))[1] == outcome.created, f"lost: {outcome}"
    sent = {o.key for o in load.outcomes if o.write}
    assert set(stored_articles) | set(stored_comments) <= sent
    return len(acknowledged), len(stored_articles) + len(stored_comments)


def cut_short(outcome: Outcome) -> bool:
    """The answer stopped before its end: the app server died after nginx had passed its headers on,
    when nginx can no longer retry (the client sees the connection close early, an error)."""
    return outcome.status is None and outcome.error.startswith("IncompleteRead")


def reported_as_error(outcome: Outcome) -> bool:
    """nginx's 502 JSON (the server died before answering; never retried for a write), or cut short."""
    return (outcome.status == 502 and outcome.error == "server") or cut_short(outcome)


def describe(failed: list[Outcome], stack: FaultStack) -> str:
    lines = [
        f"{o.started:6.2f} s {o.method} {o.path} -> {o.status} {o.error} ({o.latency * 1000:.0f} ms)"
        for o in failed
    ]
    return "\n".join(
        [f"{len(failed)} failed:", *lines[:10], "nginx error log:", stack.nginx_errors(), stack.app_errors()]
    )


def wait_gone(procs: set[Proc], what: str, timeout: float = 40) -> None:
    wait_until(lambda: not any(p.running() for p in procs), what, timeout)


class SlowClients:
    """Connections that send a request one byte at a time: half stay in the headers, half in the body."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.sockets: list[tuple[socket.socket, bytes]] = []

    def __enter__(self) -> SlowClients:
        for number in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            if number % 2:
                head = f"GET /api/articles HTTP/1.1\r\nHost: localhost\r\nX-Slow-{number}: "
                sock.sendall(head.encode())
                self.sockets.append((sock, b"a"))
            else:
                head = "POST /api/articles HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                sock.sendall(f"{head}Content-Length: 100000\r\n\r\n".encode())
                self.sockets.append((sock, b" "))
        return self

    def drip(self) -> int:
        """One more byte on every connection; returns how many nginx still holds open."""
        open_now = 0
        for sock, byte in self.sockets:
            try:
                sock.sendall(byte)
                open_now += 1
            except OSError:
                pass
        return open_now

    def __exit__(self, *exc: object) -> None:
        for sock, _ in self.sockets:
            sock.close()
