"""Processes, ports and /proc for the benchmarks: what `make bench` (bench/api_bench.py,
bench/bench_servers.py) and the finished studies in bench/studies/ share. Ports and waiting come from
the repository's harness (harness/net.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.net import free_port as any_free_port  # noqa: E402 - the repository's harness, found from ROOT
from harness.net import wait_for  # noqa: E402

__all__ = ["wait_for"]

BIN = Path(sys.executable).parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
RESERVED_PORTS = {8000, 8001, 8002, 8080}  # make run / make stack
STOP_TIMEOUT = 35.0  # above gunicorn's graceful_timeout (30 s)
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A reason to stop, said in one line."""


def free_port() -> int:
    """A free port on 127.0.0.1 that is not one of `make run`'s or `make stack`'s."""
    while True:
        port = any_free_port()
        if port not in RESERVED_PORTS:
            return port


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - our own loopback URL
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except (OSError, ValueError):
        return 0, None


def run_quiet(
    command: list[str], what: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> str:
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, check=False)  # noqa: S603
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise BenchError(f"{what} failed: {lines[-1] if lines else f'exit {result.returncode}'}")
    return result.stdout


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1], starttime [19])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and bool(fields) and fields[0] != "Z"


def children(pid: int) -> dict[int, str]:
    """The child processes of *pid*, each with its start time (so that a recycled PID is never mistaken
    for one of them)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and len(fields) > 19 and fields[1] == str(pid):
                found[int(entry.name)] = fields[19]
    return found


def kill_if_same(processes: dict[int, str]) -> None:
    """SIGKILL each process still running with the recorded start time: leftovers of a master that was
    killed (its children then belong to init)."""
    for pid, started in processes.items():
        fields = _stat(pid)
        if fields and len(fields) > 19 and fields[19] == started and fields[0] != "Z":
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# --- CPU accounting: how much of the machine the rest of the world used during a run --------------------


@dataclass(frozen=True)
class Proc:
    ppid: int
    ticks: int  # utime + stime
    reaped: int  # cutime + cstime: the CPU of children it has waited for (gunicorn's restarted workers)
    comm: str


def proc_table() -> dict[int, Proc]:
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, _, rest = (entry / "stat").read_text().rpartition(")")
            fields = rest.split()
            table[int(entry.name)] = Proc(
                ppid=int(fields[1]),
                ticks=int(fields[11]) + int(fields[12]),
                reaped=int(fields[13]) + int(fields[14]),
                comm=head.partition("(")[2],
            )
        except (OSError, IndexError, ValueError):
            continue
    return table


def postgres_backends(database: str, table: dict[int, Proc] | None = None) -> list[int]:
    """The server processes of our database: postgres puts the database name in their title."""
    found = []
    needle = f" {database} ".encode()
    for pid, proc in (table or proc_table()).items():
        if proc.comm != "postgres":
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if cmdline.startswith(b"postgres:") and needle in cmdline:
            found.append(pid)
    return found


def app_environment(database_url: str, secret_key: str) -> dict[str, str]:
    """The caller's environment without anything Conduit or gunicorn would read, plus the bench's."""
    from conduit.settings import Settings

    owned = {name.upper() for name in Settings.model_fields} | {"CONDUIT_ENV", "CONDUIT_CONFIG_FILE"}
    owned |= {"HOST", "PORT", "WEB_CONCURRENCY"}
    env = {k: v for k, v in os.environ.items() if k.upper() not in owned and not k.startswith("GUNICORN_")}
    env.update(
        CONDUIT_ENV="production",
        SECRET_KEY=secret_key,
        DATABASE_URL=database_url,
        PROXY_TRUSTED_HOPS="1",  # as behind nginx in the stack; LOG_LEVEL as deployed (info, access lines on)
        # `conduit seed` gives the demo accounts password123, which production's common-password list refuses.
        PASSWORD_BLOCKLIST="false",  # noqa: S106 - a switch, not a password
    )
    return env


@dataclass
class Nginx:
    pid: int
    port: int
    prefix: Path
    seen: dict[int, str] = field(default_factory=dict)  # every worker seen, with its start time

    def processes(self) -> list[int]:
        found = children(self.pid)
        self.seen.update(found)
        return [self.pid, *found]

    def stop(self) -> None:
        self.processes()
        for sig, wait in ((signal.SIGQUIT, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if not pid_alive(self.pid):
                break
            try:
                os.kill(self.pid, sig)  # QUIT: nginx's graceful shutdown
            except ProcessLookupError:
                break
            wait_for(lambda: not pid_alive(self.pid), wait)
        kill_if_same(self.seen)


def start_nginx(
    nginx: str,
    app_port: int,
    prefix: Path,
    upstream: str | None = None,
    protocol: Literal["http", "uwsgi"] = "http",
) -> Nginx:
    """A private nginx in front of 127.0.0.1:*app_port* over HTTP, or of *upstream* (``unix:PATH``) over
    *protocol*."""
    from conduit.ops.nginx_config import (
        STATIC_ROOT,
        NginxTarget,
        StandaloneNginx,
        worker_user_for,
        write_standalone,
    )

    port = free_port()
    site = NginxTarget(
        upstreams=(upstream or f"127.0.0.1:{app_port}",),
        protocol=protocol,
        http_port=port,
        access_log=str(prefix / "access.log"),
        error_log=str(prefix / "site-error.log"),
    )
    standalone = StandaloneNginx(prefix=prefix, site=site, user=worker_user_for(STATIC_ROOT))
    conf = write_standalone(standalone)
    prefix.chmod(0o755)  # workers (www-data when started by root) buffer into prefix/tmp
    base = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(standalone.error_log)]
    run_quiet([*base, "-t", "-q"], "nginx -t")
    run_quiet(base, "nginx")  # daemonizes; the master's PID is in the pid file
    if not wait_for(standalone.pid_file.exists, 10):
        raise BenchError(f"nginx wrote no pid file; see {standalone.error_log}")
    server = Nginx(int(standalone.pid_file.read_text().split()[0]), port, prefix)
    if not wait_for(lambda: http("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200, 10):
        server.stop()
        raise BenchError(f"nginx does not answer on port {port}; see {standalone.error_log}")
    return server
