"""deploy/systemd/conduit.service: its settings, systemd's own checks, and its commands run for real.

There is no running systemd here, so the test plays its part: it runs the unit's ExecStart with
NOTIFY_SOCKET on a datagram socket of its own (and checks READY=1 comes from the main PID, as
NotifyAccess=main requires), its ExecReload with $MAINPID filled in, and sends its KillSignal to the main
PID only (KillMode=mixed). Production paths are replaced by the test's, nothing else.
"""

from __future__ import annotations

import array
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.net import free_port, http_request
from tests.support.processes import (
    START_TIMEOUT,
    Proc,
    app_directory,
    children_of,
    graceful_timeout,
    kill_leftovers,
    processes_mentioning,
    substitute,
)
from tests.support.servers import REPO, server_env, stop, wait_until
from tests.support.skips import require_or_skip

pytestmark = pytest.mark.slow

UNIT = REPO / "deploy" / "systemd" / "conduit.service"


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """systemd's syntax as far as this unit needs: sections, KEY=value, repeatable keys, # and ; comments."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        assert not line.endswith("\\"), f"line {number}: continuation lines are not supported here"
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"line {number}: a setting outside any section"
        assert "=" in line, f"line {number}: {raw!r}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def seconds(value: str) -> float:
    """A systemd time span such as 45, 45s, 1min 30s."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value)
    assert parts, value
    assert "".join(f"{n}{u}" for n, u in parts) == value.replace(" ", ""), value
    return sum(float(number) * units[unit] for number, unit in parts)


@pytest.fixture(scope="module")
def unit() -> dict[str, dict[str, list[str]]]:
    return parse_unit(UNIT.read_text())


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section].get(key, [])
    assert len(values) == 1, f"[{section}] {key}: {values}"
    return values[0]


def test_unit_settings(unit: dict[str, dict[str, list[str]]]) -> None:
    service = "Service"
    assert one(unit, service, "Type") == "notify"
    assert one(unit, service, "User") == "conduit"
    assert one(unit, service, "WorkingDirectory") == "/srv/conduit"
    assert one(unit, service, "EnvironmentFile") == "/etc/conduit/conduit.env"  # no "-": it must exist
    assert shlex.split(one(unit, service, "ExecStart"))[:2] == ["/srv/conduit/.venv/bin/conduit", "serve"]
    assert one(unit, service, "ExecReload") == "/bin/kill -s HUP $MAINPID"
    assert one(unit, service, "KillSignal") == "SIGTERM"
    assert one(unit, service, "KillMode") == "mixed"
    assert seconds(one(unit, service, "TimeoutStopSec")) > graceful_timeout()
    assert one(unit, service, "Restart") == "on-failure"
    assert "NotifyAccess" not in unit[service]  # the default, main, is right: READY=1 comes from MAINPID
    for key, value in {
        "NoNewPrivileges": "true",
        "ProtectSystem": "strict",
        "PrivateTmp": "true",
        "ProtectHome": "true",
    }.items():
        assert one(unit, service, key) == value, key
    assert unit[service]["ReadWritePaths"]
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        require_or_skip("systemd-analyze is not installed (apt-get install systemd)")
    version = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=10, check=False)
    match = re.match(r"systemd (\d+)", version.stdout)
    if match is None or int(match.group(1)) < 250:
        require_or_skip(f"systemd-analyze {version.stdout[:40]!r} has no --offline (systemd >= 250 does)")
    return tool


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd's own parser: an unknown key or a bad value is only a warning for it (exit status 0), so
    any output at all fails the test. ExecStart must exist: the production prefix points at this venv."""
    tool = systemd_analyze()
    copy = tmp_path / "conduit.service"
    copy.write_text(substitute(UNIT.read_text(), {"/srv/conduit": str(app_directory(tmp_path))}))
    checked = subprocess.run(
        [tool, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout + checked.stderr == ""


def test_systemd_analyze_security() -> None:
    """The hardening is there: systemd's exposure score (0 best, 10 worst) stays at 3.0 or below."""
    tool = systemd_analyze()
    scored = subprocess.run(
        [tool, "security", "--offline=true", "--threshold=30", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    overall = re.search(r"Overall exposure level for conduit.service: ([\d.]+)", scored.stdout)
    assert overall is not None, scored.stdout + scored.stderr
    assert scored.returncode == 0, f"exposure {overall.group(1)} is above 3.0:\n{scored.stdout}"


class NotifySocket:
    """What systemd listens on for sd_notify(): a datagram socket that learns each sender's PID."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.2)

    def receive(self) -> tuple[str, int] | None:
        """One message and the PID of its sender (from SCM_CREDENTIALS), or None after 0.2 s."""
        try:
            data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(3 * 4))
        except TimeoutError:
            return None
        pid = -1
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = array.array("i", payload[:12])[0]  # struct ucred: pid, uid, gid
        return data.decode(), pid

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    directory = Path(tempfile.mkdtemp(prefix="conduit-sd-"))  # a UNIX socket path is short
    listener = NotifySocket(directory / "notify")
    try:
        yield listener
    finally:
        listener.close()
        shutil.rmtree(directory, ignore_errors=True)


def test_unit_commands_live(
    unit: dict[str, dict[str, list[str]]], tmp_path: Path, sqlite_url: str, notify_socket: NotifySocket
) -> None:
    service = unit["Service"]
    app = app_directory(tmp_path)
    local = {"/srv/conduit": str(app)}
    exec_start = shlex.split(substitute(one(unit, "Service", "ExecStart"), local))
    assert exec_start[0].startswith("/"), "systemd wants an absolute path, without prefixes such as - or @"
    port = free_port()
    env = server_env(
        # what EnvironmentFile= would provide, and what systemd sets itself
        CONDUIT_ENV="testing",
        DATABASE_URL=sqlite_url,
        PORT=str(port),
        WEB_CONCURRENCY="2",
        NOTIFY_SOCKET=str(notify_socket.path),
    )
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "journal.log"
    seen: set[Proc] = set()
    with log.open("wb") as journal:
        main = subprocess.Popen(
            exec_start,
            cwd=substitute(one(unit, "Service", "WorkingDirectory"), local),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=journal,
            stderr=journal,
        )
    try:
        # Type=notify: started means READY=1, from the main PID.
        started = time.monotonic()
        messages: list[tuple[str, int]] = []
        while not any("READY=1" in text.splitlines() for text, _ in messages):
            assert main.poll() is None, f"ExecStart exited ({main.returncode}):\n{log.read_text()}"
            assert time.monotonic() - started < START_TIMEOUT, f"no READY=1 in {messages}\n{log.read_text()}"
            if (message := notify_socket.receive()) is not None:
                messages.append(message)
        ready_after = time.monotonic() - started
        assert [pid for text, pid in messages if "READY=1" in text.splitlines()] == [main.pid]
        master = Proc.of(main.pid)
        seen.add(master)
        assert master.cmdline()[1:3] == ["-m", "gunicorn"]  # `conduit serve` exec'd: MAINPID is gunicorn
        wait_until(
            lambda: http_request(base_url, "GET", "/readyz", timeout=3).status == 200,
            "/readyz after READY=1",
            START_TIMEOUT,
            alive=lambda: main.poll() is None,
            log=log,
        )
        old_workers = wait_for_workers(main.pid, seen, log, lambda found: len(found) == 2)

        # ExecReload: HUP to the master; fresh workers replace the old ones, the master stays.
        reload_command = shlex.split(one(unit, "Service", "ExecReload").replace("$MAINPID", str(main.pid)))
        reloaded = subprocess.run(reload_command, capture_output=True, text=True, timeout=10, check=False)
        assert reloaded.returncode == 0, reloaded.stderr
        new_workers = wait_for_workers(
            main.pid,
            seen,
            log,
            lambda found: len(found) == 2 and not found & old_workers,
            timeout=graceful_timeout() + 10,
        )
        assert not [proc for proc in old_workers if proc.running()]
        assert master.running()
        assert http_request(base_url, "GET", "/readyz").status == 200
        assert "Hang up: Master" in log.read_text()

        # KillSignal, to the main PID only (KillMode=mixed): a clean exit, so Restart=on-failure rests.
        kill_signal = signal.Signals[one(unit, "Service", "KillSignal")]
        timeout_stop = seconds(service["TimeoutStopSec"][0])
        stopping = time.monotonic()
        main.send_signal(kill_signal)
        try:
            returncode = main.wait(timeout=timeout_stop)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {timeout_stop:.0f} s (TimeoutStopSec) after {kill_signal.name}")
        stopped_after = time.monotonic() - stopping
        assert returncode == 0, log.read_text()
        assert not [proc for proc in new_workers if proc.running()]
        assert "Shutting down: Master" in log.read_text()
        print(f"READY=1 after {ready_after:.1f} s; {kill_signal.name} to exit: {stopped_after:.1f} s")
    finally:
        stop(main)
        kill_leftovers(seen | processes_mentioning(str(app)))


def wait_for_workers(
    master: int,
    seen: set[Proc],
    log: Path,
    done: Callable[[set[Proc]], bool],
    timeout: float = START_TIMEOUT,
) -> set[Proc]:
    found: set[Proc] = set()

    def check() -> bool:
        nonlocal found
        found = children_of(master)
        seen.update(found)
        return done(found)

    wait_until(check, f"workers of {master}", timeout, log=log)
    return found
