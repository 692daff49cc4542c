"""deploy/supervisor/conduit.conf under the real supervisord: start, crash recovery, graceful stop.

The program section is used as written, with only its production paths (and its service user, which does
not exist here) replaced by the test's: see :func:`program_section`.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.net import free_port, http_request
from tests.support.processes import (
    START_TIMEOUT,
    Proc,
    app_directory,
    children_of,
    descendants,
    graceful_timeout,
    kill_leftovers,
    processes_mentioning,
    substitute,
    write_env_file,
)
from tests.support.servers import REPO, server_env, wait_until
from tests.support.skips import require_or_skip

pytestmark = pytest.mark.slow

PROGRAM_CONF = REPO / "deploy" / "supervisor" / "conduit.conf"
BIN = Path(sys.executable).parent
#: A kill -9 of the master leaves its workers serving until they notice (up to GUNICORN_TIMEOUT / 2);
#: the new master can only bind once they are gone.
RECOVERY_TIMEOUT = 45.0


# --- supervisord --------------------------------------------------------------------------------------


@dataclass
class Supervisor:
    process: subprocess.Popen[bytes]
    config: Path
    base_url: str
    log: Path  #: supervisord's own log
    app_log: Path  #: the program's stderr (gunicorn and the app)
    app_stdout: Path
    #: the stand-in for /srv/conduit: every process of the program has it in its command line
    app: Path
    #: every gunicorn process the test saw, killed by PID at the end if one is somehow still there
    seen: set[Proc] = field(default_factory=set)

    def ctl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def status(self) -> str:
        return self.ctl("status", "conduit").stdout

    def master(self) -> Proc:
        answer = self.ctl("pid", "conduit")
        assert answer.stdout.strip().isdigit(), answer
        proc = Proc.of(int(answer.stdout))
        self.seen.add(proc)
        return proc

    def workers(self, master: Proc, count: int = 2) -> set[Proc]:
        """The master's workers, once there are *count* of them."""
        found: set[Proc] = set()

        def booted() -> bool:
            nonlocal found
            found = children_of(master.pid)
            self.seen.update(found)
            return len(found) == count

        wait_until(booted, f"{count} workers of {master.pid}", START_TIMEOUT, log=self.app_log)
        return found

    def ready(self) -> bool:
        return http_request(self.base_url, "GET", "/readyz", timeout=3).status == 200

    def wait_ready(self) -> None:
        wait_until(
            self.ready,
            "/readyz through supervisor",
            START_TIMEOUT,
            alive=lambda: self.process.poll() is None,
            log=self.app_log,
        )

    def wait_running(self) -> None:
        """RUNNING comes startsecs (10 s) after the start; only the tests about that state wait for it."""
        self.wait_ready()
        wait_until(
            lambda: "RUNNING" in self.status(),
            "supervisorctl status: RUNNING",
            START_TIMEOUT,
            alive=lambda: self.process.poll() is None,
            log=self.app_log,
        )

    def shutdown(self) -> None:
        """supervisorctl shutdown (it stops conduit gracefully first), then SIGKILL by PID whatever of
        ours is left: supervisord itself, and any process of the program, even one a broken configuration
        let escape supervisor's signals."""
        if self.process.poll() is None:
            self.seen.update(descendants(self.process.pid))
            try:
                self.ctl("shutdown", timeout=60)
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        kill_leftovers(self.seen | processes_mentioning(str(self.app)))


def program_section(app: Path, env_file: Path, log_dir: Path) -> str:
    """deploy/supervisor/conduit.conf with the production paths and user replaced by the test's."""
    return substitute(
        PROGRAM_CONF.read_text(),
        {
            "/etc/conduit/conduit.env": str(env_file),
            "/srv/conduit": str(app),
            "/var/log/conduit": str(log_dir),
            # supervisord resolves the name when it reads the file, and only root can switch users.
            "\nuser=conduit\n": f"\nuser={pwd.getpwuid(os.getuid()).pw_name}\n",
        },
    )


@pytest.fixture
def supervisor(tmp_path: Path, sqlite_url: str) -> Iterator[Supervisor]:
    supervisord = BIN / "supervisord"
    if importlib.util.find_spec("supervisor") is None:
        require_or_skip("supervisor is not installed (pip install supervisor)")
    if not os.access(supervisord, os.X_OK):
        require_or_skip(f"{supervisord} is not executable")

    port = free_port()
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    env_file = write_env_file(
        tmp_path / "conduit.env",
        {"CONDUIT_ENV": "testing", "DATABASE_URL": sqlite_url, "PORT": str(port), "WEB_CONCURRENCY": "2"},
    )
    program = tmp_path / "conduit.conf"
    app = app_directory(tmp_path)
    program.write_text(program_section(app, env_file, log_dir))
    # A UNIX socket path has at most 107 bytes; pytest's tmp_path can be longer.
    sockets = Path(tempfile.mkdtemp(prefix="conduit-sv-"))
    config = tmp_path / "supervisord.conf"
    config.write_text(
        f"""\
[unix_http_server]
file={sockets / "supervisor.sock"}
chmod=0700

[supervisord]
logfile={tmp_path / "supervisord.log"}
pidfile={tmp_path / "supervisord.pid"}
childlogdir={tmp_path}
loglevel=info
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{sockets / "supervisor.sock"}

[include]
files = {program}
"""
    )
    with (tmp_path / "supervisord.out").open("wb") as out:
        process = subprocess.Popen(
            [str(supervisord), "--nodaemon", "-c", str(config)],
            cwd=tmp_path,
            env=server_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Supervisor(
        process,
        config,
        f"http://127.0.0.1:{port}",
        tmp_path / "supervisord.log",
        log_dir / "conduit.log",
        log_dir / "conduit.stdout.log",
        app,
    )
    try:
        running.wait_ready()
        running.master()  # recorded, in case the test fails before it asks
        yield running
    finally:
        running.shutdown()
        shutil.rmtree(sockets, ignore_errors=True)


# --- the program section as written ------------------------------------------------------------------


def test_program_section_settings() -> None:
    parser = configparser.RawConfigParser(inline_comment_prefixes=None)
    parser.read_string(PROGRAM_CONF.read_text())
    program = parser["program:conduit"]
    assert program["command"].startswith("/bin/sh -c '")
    assert "exec /srv/conduit/.venv/bin/conduit serve" in program["command"]  # exec: no shell stays
    assert ". /etc/conduit/conduit.env" in program["command"]
    assert program["user"] == "conduit"
    assert program["directory"] == "/srv/conduit"
    assert program["stopsignal"] == "TERM"
    assert int(program["stopwaitsecs"]) > graceful_timeout()
    assert program["autorestart"] == "true"
    assert program["stopasgroup"] == "false"
    assert program["killasgroup"] == "true"
    assert int(program["startsecs"]) > 0
    for name in ("stderr_logfile", "stdout_logfile"):
        assert program[name].startswith("/var/log/conduit/")
    assert "supervisorctl signal HUP conduit" in PROGRAM_CONF.read_text()


# --- live -----------------------------------------------------------------------------------------------


def test_serves_through_supervisor(supervisor: Supervisor) -> None:
    supervisor.wait_running()
    ready = http_request(supervisor.base_url, "GET", "/readyz")
    assert ready.status == 200
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok"}
    assert re.search(r"^conduit\s+RUNNING\s+pid \d+", supervisor.status())

    # The PID supervisor signals is gunicorn's master itself: sh and `conduit serve` exec'd into it.
    master = supervisor.master()
    assert master.cmdline()[1:3] == ["-m", "gunicorn"], master.cmdline()
    assert len(supervisor.workers(master)) == 2  # WEB_CONCURRENCY came from the env file
    assert "Booting worker" in supervisor.app_log.read_text()
    assert supervisor.app_stdout.read_bytes() == b""


def test_signal_hup_reloads_gracefully(supervisor: Supervisor) -> None:
    """What the file's comment recommends: `supervisorctl signal HUP conduit`. The master stays, fresh
    workers replace the old ones, and every request made meanwhile is answered."""
    master = supervisor.master()
    old_workers = supervisor.workers(master)

    signalled = supervisor.ctl("signal", "HUP", "conduit")
    assert signalled.returncode == 0, signalled
    assert "conduit: signalled" in signalled.stdout
    statuses: list[int] = []

    def replaced() -> bool:
        statuses.append(http_request(supervisor.base_url, "GET", "/readyz", timeout=5).status)
        found = children_of(master.pid)
        supervisor.seen.update(found)
        return len(found) == 2 and not found & old_workers

    wait_until(replaced, "fresh workers after HUP", graceful_timeout() + 10, log=supervisor.app_log)
    assert set(statuses) == {200}
    assert supervisor.master() == master
    assert master.running()
    assert not [proc for proc in old_workers if proc.running()]
    assert "Hang up: Master" in supervisor.app_log.read_text()
    supervisor.wait_running()  # the program was never restarted: it reaches RUNNING with the same master
    assert supervisor.master() == master


def test_killed_master_is_restarted(supervisor: Supervisor) -> None:
    supervisor.wait_running()  # a kill while STARTING would count as a failed start instead
    old_master = supervisor.master()
    old_workers = supervisor.workers(old_master)

    os.kill(old_master.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    # The orphaned workers keep serving until they notice their master is gone; only when they have
    # left can the new master bind the port. So: first they go, then whatever answers is new.
    wait_until(
        lambda: not any(proc.running() for proc in {old_master, *old_workers}),
        "the killed master's workers leave",
        RECOVERY_TIMEOUT,
        log=supervisor.app_log,
    )
    orphans_gone_after = time.monotonic() - killed_at
    wait_until(
        supervisor.ready,
        "conduit restarted by supervisor answers",
        RECOVERY_TIMEOUT - (time.monotonic() - killed_at),
        alive=lambda: "FATAL" not in supervisor.status(),
        log=supervisor.app_log,
    )
    answers_after = time.monotonic() - killed_at
    wait_until(
        lambda: "RUNNING" in supervisor.status(),
        "supervisorctl status: RUNNING again",
        RECOVERY_TIMEOUT - (time.monotonic() - killed_at),
        log=supervisor.app_log,
    )
    running_after = time.monotonic() - killed_at
    assert running_after < RECOVERY_TIMEOUT

    new_master = supervisor.master()
    assert new_master.pid != old_master.pid
    new_workers = supervisor.workers(new_master)
    assert not new_workers & old_workers
    assert http_request(supervisor.base_url, "GET", "/api/tags").json() == {"tags": []}
    assert "exited: conduit (terminated by SIGKILL; not expected)" in supervisor.log.read_text()
    print(
        f"after kill -9: old workers gone {orphans_gone_after:.1f} s, answers {answers_after:.1f} s, "
        f"RUNNING {running_after:.1f} s"
    )


def slow_post(base_url: str, path: str, body: bytes) -> socket.socket:
    """Send the headers and the first half of the body; the caller sends the rest."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    connection.sendall(head.encode() + body[: len(body) // 2])
    return connection


def read_response(connection: socket.socket) -> tuple[int, bytes]:
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_stop_is_graceful(supervisor: Supervisor) -> None:
    master = supervisor.master()
    supervisor.workers(master)
    body = b'{"user": {"username": "slowpoke", "email": "slowpoke@example.com", "password": "password123"}}'
    connection = slow_post(supervisor.base_url, "/api/users", body)
    try:
        time.sleep(0.5)  # a worker has accepted the connection and waits for the rest of the body
        started = time.monotonic()
        stopping = subprocess.Popen(
            [str(BIN / "supervisorctl"), "-c", str(supervisor.config), "stop", "conduit"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                lambda: "Handling signal: term" in supervisor.app_log.read_text(),
                "gunicorn received TERM",
                10,
                log=supervisor.app_log,
            )
            assert "STOPPING" in supervisor.status()
            time.sleep(1.0)  # the stop is under way while the request is still incomplete
            assert stopping.poll() is None, "the stop did not wait for the request in flight"
            connection.sendall(body[len(body) // 2 :])
            status, answer = read_response(connection)
            stop_output, _ = stopping.communicate(timeout=60)
        finally:
            if stopping.poll() is None:
                stopping.kill()
                stopping.wait(timeout=10)
        stopped_after = time.monotonic() - started
    finally:
        connection.close()

    assert status == 201, answer[:500]
    assert b'"username":"slowpoke"' in answer.replace(b" ", b"")
    assert stopping.returncode == 0
    assert b"conduit: stopped" in stop_output
    stopwaitsecs = int(re.findall(r"^stopwaitsecs=(\d+)", PROGRAM_CONF.read_text(), re.MULTILINE)[0])
    assert 1.0 < stopped_after < stopwaitsecs
    log = supervisor.app_log.read_text()
    assert "Shutting down: Master" in log
    assert "WORKER TIMEOUT" not in log
    assert "SIGKILL" not in log
    assert "stopped: conduit (exit status 0)" in supervisor.log.read_text()
    print(f"stop took {stopped_after:.1f} s, the slow request included")


def test_stopped_means_stopped(supervisor: Supervisor) -> None:
    master = supervisor.master()
    ours = {master, *supervisor.workers(master)}

    stopped = supervisor.ctl("stop", "conduit", timeout=60)
    assert stopped.returncode == 0, stopped
    assert "conduit: stopped" in stopped.stdout
    assert re.search(r"^conduit\s+STOPPED", supervisor.status())
    assert not [proc for proc in ours if proc.running()]
    assert not children_of(supervisor.process.pid)
    port = int(supervisor.base_url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=3).close()

    supervisor.shutdown()
    assert supervisor.process.returncode == 0
    assert not [proc for proc in supervisor.seen if proc.running()]
