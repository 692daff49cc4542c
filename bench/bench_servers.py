"""The processes of bench/api_bench.py: app servers (gunicorn with deploy/gunicorn.conf.py, granian, or
uWSGI with deploy/uwsgi/conduit.ini), each with a private nginx in front, and the CPU they use."""

from __future__ import annotations

import grp
import os
import pwd
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from processes import (
    BIN,
    CLK_TCK,
    GUNICORN_CONF,
    ROOT,
    STOP_TIMEOUT,
    BenchError,
    Nginx,
    children,
    free_port,
    kill_if_same,
    postgres_backends,
    proc_table,
    rss_mib,
    start_nginx,
    wait_for,
)

START_TIMEOUT = 60.0
CONDUIT_APP = "conduit.wsgi:app"
UWSGI_INI = ROOT / "deploy" / "uwsgi" / "conduit.ini"
SERVER_KINDS = ("gunicorn", "granian", "uwsgi")
#: What each server's log says once per worker it starts (the first ones and every restart).
WORKER_BOOTED = {
    "gunicorn": "Booting worker with pid",
    "granian": "Spawning worker-",  # "[INFO] Spawning worker-1 with PID: ..."
    "uwsgi": "spawned uWSGI worker",  # "spawned uWSGI worker 1 (pid: ...)", "Respawned uWSGI worker 1 ..."
}


@dataclass(frozen=True)
class ServerSpec:
    """One app server: *app* is a WSGI target, *kind* one of SERVER_KINDS."""

    name: str
    app: str
    workers: int
    threads: int = 2
    kind: str = "gunicorn"
    extra_env: tuple[tuple[str, str], ...] = ()


@dataclass
class AppServer:
    spec: ServerSpec
    port: int
    process: subprocess.Popen[bytes]
    logfile: Path
    proxy: Nginx | None = None
    seen: dict[int, str] = field(default_factory=dict)

    @property
    def direct(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def via_nginx(self) -> str:
        if self.proxy is None:
            raise BenchError(f"{self.spec.name} has no nginx in front")
        return f"http://127.0.0.1:{self.proxy.port}"

    def base(self, path: str) -> str:
        return self.via_nginx if path == "nginx" else self.direct

    def workers(self) -> list[int]:
        found = children(self.process.pid)
        self.seen.update(found)
        return list(found)

    def worker_rss(self) -> list[float]:
        return [r for r in (rss_mib(pid) for pid in self.workers()) if r is not None]

    def worker_private(self) -> list[dict[str, float]]:
        """Each worker's PSS (shared pages split between the processes mapping them) and USS (pages no
        other process maps), MiB: RSS counts every shared library in full in every worker."""
        return [m for m in (smaps(pid) for pid in self.workers()) if m is not None]

    def booted(self) -> int:
        return self.logfile.read_text(errors="replace").count(WORKER_BOOTED[self.spec.kind])

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        if self.process.poll() is None:
            self.workers()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        kill_if_same(self.seen)


def smaps(pid: int) -> dict[str, float] | None:
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, _, value = line.partition(":")
            fields[name] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return {"pss_mib": round(fields.get("Pss", 0) / 1024, 1), "uss_mib": round(uss / 1024, 1)}


def server_command(
    spec: ServerSpec, port: int, socket: Path | None = None, max_requests: str | None = None
) -> list[str]:
    if spec.kind == "uwsgi":
        # deploy/uwsgi/conduit.ini as it is (app loaded in the master, max-requests 2000, request log
        # off, the uwsgi-protocol socket nginx uses at CONDUIT_UWSGI_SOCKET), plus what gunicorn.conf.py
        # has and the ini leaves out: 2 threads per worker (WEB_CONCURRENCY processes); plus an HTTP 1.1
        # socket with keep-alive for the bench's direct path (wrk speaks HTTP, not uwsgi).
        command = [str(BIN / "uwsgi"), "--ini", str(UWSGI_INI), "--threads", str(spec.threads)]
        command += ["--http11-socket", f"127.0.0.1:{port}"]
        if spec.app != CONDUIT_APP:
            command += ["--module", spec.app]  # single-valued: replaces the ini's conduit.wsgi:app
        if socket is not None and os.geteuid() == 0:
            # Run as root, the bench's nginx has www-data workers: the socket's group must be theirs,
            # as deployed (docs/deployment.md: nginx's user in uWSGI's group; mode 660 from the ini).
            user = worker_user()
            group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
            command += ["--chown-socket", f"root:{group}"]
        if max_requests is not None:
            command += ["--max-requests", max_requests]
        return command
    if spec.kind == "granian":
        return [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(spec.workers),
            "--blocking-threads",
            str(spec.threads),
            "--no-ws",
            spec.app,
        ]
    return [str(BIN / "python"), "-m", "gunicorn", "--config", str(GUNICORN_CONF), spec.app]


def worker_user() -> str:
    """Who the bench's nginx workers run as (start_nginx's rule)."""
    from conduit.ops.nginx_config import STATIC_ROOT, worker_user_for

    return worker_user_for(STATIC_ROOT)


def start_server(spec: ServerSpec, env: dict[str, str], workdir: Path, with_nginx: bool) -> AppServer:
    if spec.kind not in SERVER_KINDS:
        raise BenchError(f"unknown server {spec.kind!r}; choose from {', '.join(SERVER_KINDS)}")
    port = free_port()
    logfile = workdir / f"{spec.name}-{port}.log"
    metrics_dir = workdir / f"metrics-{spec.name}"
    metrics_dir.mkdir(exist_ok=True)
    socket = None
    if spec.kind == "uwsgi":
        # uWSGI reads every UWSGI_* variable as an option (strict mode refuses unknown ones), and
        # sockets add up: none from the caller's environment.
        env = {k: v for k, v in env.items() if not k.startswith(("UWSGI_", "CONDUIT_UWSGI_"))}
        socket = workdir / f"uwsgi-{spec.name}-{port}" / "uwsgi.sock"
        socket.parent.mkdir()
        socket.parent.chmod(0o755)
        workdir.chmod(0o711)  # nginx's workers (www-data under root) reach the socket, list nothing
    server_env = {
        **env,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(spec.workers),
        "GUNICORN_THREADS": str(spec.threads),
        "PYTHONPATH": str(ROOT / "bench"),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        **dict(spec.extra_env),
    }
    if socket is not None:
        server_env["CONDUIT_UWSGI_SOCKET"] = str(socket)
    command = server_command(spec, port, socket, server_env.get("GUNICORN_MAX_REQUESTS"))
    with logfile.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own servers
            command,
            cwd=workdir,
            env=server_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    server = AppServer(spec, port, process, logfile)
    try:
        ready = wait_for(
            lambda: status_of(f"{server.direct}/readyz") == 200 and len(server.workers()) >= spec.workers,
            START_TIMEOUT,
            alive=lambda: process.poll() is None,
        )
        if not ready:
            tail = logfile.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise BenchError(f"{spec.name} ({spec.kind}) did not become ready; last log line: {tail[0]}")
        if with_nginx:
            prefix = workdir / f"nginx-{spec.name}-{port}"
            if socket is not None:
                server.proxy = start_nginx(
                    _nginx_binary(), port, prefix, upstream=f"unix:{socket}", protocol="uwsgi"
                )
            else:
                server.proxy = start_nginx(_nginx_binary(), port, prefix)
    except BaseException:
        server.stop()
        raise
    return server


def status_of(url: str) -> int:
    """The HTTP status of a GET, 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback URL
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def _nginx_binary() -> str:
    import shutil

    return shutil.which("nginx") or "/usr/sbin/nginx"


class CpuMeter:
    """Server CPU seconds (one app server with its workers and the workers it reaped, its nginx when the
    run goes through it, and the PostgreSQL backends of the bench database) over a run."""

    def __init__(self, server: AppServer, through_nginx: bool, database: str) -> None:
        self.server = server
        self.through_nginx = through_nginx
        self.database = database
        self.seconds = 0.0
        self.database_seconds = 0.0
        self.wall = 0.0

    def _ticks(self) -> dict[int, int]:
        table = proc_table()
        master = self.server.process.pid
        ticks: dict[int, int] = {}
        if master in table:
            ticks[master] = table[master].ticks + table[master].reaped
        for pid, proc in table.items():
            if proc.ppid == master:
                ticks[pid] = proc.ticks
        if self.through_nginx and self.server.proxy is not None:
            nginx = self.server.proxy.pid
            for pid, proc in table.items():
                if pid == nginx or proc.ppid == nginx:
                    ticks[pid] = proc.ticks
        for pid in postgres_backends(self.database, table):
            ticks[-pid] = table[pid].ticks  # negative: the database's share, kept apart
        return ticks

    def __enter__(self) -> CpuMeter:
        self.start = self._ticks()
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.monotonic() - self.started
        end = self._ticks()
        # The app server's CPU as totals, not per-process deltas: a worker recycled during the run leaves
        # the table and its whole lifetime's CPU shows up in the master's reaped children, so its ticks at
        # the start must be subtracted although it has no entry at the end. PostgreSQL backends go with
        # their connections, and nothing reaps them into a process we track: those count per process (a
        # backend that ends during the run loses its last ticks).
        app_end = sum(t for pid, t in end.items() if pid > 0)
        app_start = sum(t for pid, t in self.start.items() if pid > 0)
        database = sum(max(0, t - self.start.get(pid, 0)) for pid, t in end.items() if pid < 0)
        self.database_seconds = database / CLK_TCK
        self.seconds = max(0, app_end - app_start) / CLK_TCK + self.database_seconds


def stop_all(servers: list[AppServer], say: Callable[[str], None]) -> None:
    for server in reversed(servers):
        say(f"stopping {server.spec.name}")
        server.stop()
