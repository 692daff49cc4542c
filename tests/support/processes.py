"""Processes by PID from /proc, and the production layout (/srv/conduit) stood in for in a temp dir:
what the supervisor and systemd tests share."""

from __future__ import annotations

import os
import runpy
import signal
from dataclasses import dataclass
from pathlib import Path

from tests.support.databases import migrated_sqlite_url
from tests.support.servers import REPO

GUNICORN_CONFIG = REPO / "deploy" / "gunicorn.conf.py"
#: How long gunicorn may take to answer after a start (settings check, bind, two workers booted).
START_TIMEOUT = 20.0


# --- processes, by PID, from /proc --------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    """A process we saw, by PID and start time: a reused PID is not mistaken for it."""

    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> Proc:
        stat = _stat(pid)
        assert stat is not None, f"no process {pid}"
        return cls(pid, int(stat[19]))

    def running(self) -> bool:
        stat = _stat(self.pid)
        return stat is not None and int(stat[19]) == self.start and stat[0] not in ("Z", "X")

    def stopped(self) -> bool:
        """Stopped by a signal (SIGSTOP): state T."""
        stat = _stat(self.pid)
        return stat is not None and stat[0] == "T"

    def signal_pending(self, signum: int) -> bool:
        """Whether *signum* waits to be delivered (to a stopped process, once it is continued)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("ShdPnd:"):
                return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
        return False

    def cmdline(self) -> list[str]:
        raw = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: [0] state, [1] ppid, [19] start time."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def children_of(pid: int) -> set[Proc]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None and int(stat[1]) == pid and stat[0] not in ("Z", "X"):
            found.add(Proc(int(entry.name), int(stat[19])))
    return found


def descendants(pid: int) -> set[Proc]:
    found: set[Proc] = set()
    parents = [pid]
    while parents:
        for child in children_of(parents.pop()) - found:
            found.add(child)
            parents.append(child.pid)
    return found


def processes_mentioning(marker: str) -> set[Proc]:
    """Processes whose command line contains *marker*: a path unique to one test, so only ours."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        stat = _stat(int(entry.name))
        if marker.encode() in cmdline and stat is not None:
            found.add(Proc(int(entry.name), int(stat[19])))
    return found


def kill_leftovers(procs: set[Proc]) -> None:
    """SIGKILL, by PID, whichever of the processes we started is still there."""
    for proc in procs:
        if proc.running():
            os.kill(proc.pid, signal.SIGKILL)


# --- the production layout, stood in for -------------------------------------------------------------


def graceful_timeout() -> int:
    """gunicorn's graceful_timeout as deploy/gunicorn.conf.py sets it (no override in our environment)."""
    saved = os.environ.pop("GUNICORN_GRACEFUL_TIMEOUT", None)
    try:
        value = runpy.run_path(str(GUNICORN_CONFIG))["graceful_timeout"]
    finally:
        if saved is not None:
            os.environ["GUNICORN_GRACEFUL_TIMEOUT"] = saved
    assert isinstance(value, int)
    return value


def app_directory(root: Path) -> Path:
    """A stand-in for /srv/conduit: the repository's venv and deploy/, and no .env of the developer's."""
    app = root / "srv-conduit"
    app.mkdir()
    (app / ".venv").symlink_to(REPO / ".venv")
    (app / "deploy").symlink_to(REPO / "deploy")
    return app


def substitute(text: str, replacements: dict[str, str]) -> str:
    for production, ours in replacements.items():
        assert production in text, f"{production!r} is no longer in the file: update the test"
        text = text.replace(production, ours)
    return text


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    return path


def migrated_sqlite(directory: Path) -> str:
    return migrated_sqlite_url(directory)
