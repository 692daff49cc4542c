"""gunicorn's sync worker against gthread for Conduit, measured behind nginx (the deployment path) and direct.

The script makes its own PostgreSQL database (conduit_bench_<pid>, dropped at the end even on failure),
runs ``conduit deploy`` and ``conduit seed``, logs in as a seeded user, and starts, for every worker
configuration, a gunicorn with deploy/gunicorn.conf.py (CONDUIT_ENV=production, no Redis) and a private
nginx in front of it rendered from deploy/nginx. wrk (one thread, so that the servers keep the CPU) then
loads each cell:

* GET /api/articles?limit=20 with the user's token, and anonymous GET /api/tags;
* through nginx and straight to gunicorn; 8 and 32 connections.

The machine is shared, so the configurations run side by side and are measured back to back for each
cell, in an order that rotates from cell to cell and round to round; each cell is reported as the median
of the rounds, and every configuration is compared with the first one round by round. Besides req/s and
latency, each run records the CPU the server side used per request (gunicorn with the workers it reaped,
nginx, PostgreSQL backends), which other load on the machine disturbs much less than throughput, the
1-minute load average before it, and the CPU that processes other than the benchmark's used during it.
Workers' RSS is read at the end. The defaults (3 rounds of 4 s runs) keep a run near 5.5 minutes.

Results go to stdout and to bench/studies/results/worker-class-<UTC timestamp>.md as a Markdown report;
progress goes to stderr. Needs wrk and nginx (Debian packages) and a PostgreSQL server that lets the
superuser in without a password (trust auth), 127.0.0.1:5432 by default. Every process it starts is
stopped on the way out, also on errors, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: the helpers make bench uses

from processes import (
    BIN,
    CLK_TCK,
    GUNICORN_CONF,
    ROOT,
    STOP_TIMEOUT,
    BenchError,
    Nginx,
    app_environment,
    children,
    free_port,
    http,
    kill_if_same,
    load1,
    postgres_backends,
    proc_table,
    rss_mib,
    run_quiet,
    start_nginx,
    wait_for,
)

RESULTS_DIR = ROOT / "bench" / "studies" / "results"
START_TIMEOUT = 40.0
SEED_EMAIL = "demo1@demo.example.com"  # conduit seed names its accounts demo<N>@demo.example.com
ENDPOINTS = {"articles": ("/api/articles?limit=20", True), "tags": ("/api/tags", False)}
PATHS = ("nginx", "direct")

log = logging.getLogger("bench")


# --- configurations and results ---------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerConfig:
    kind: str  # sync | gthread
    workers: int
    threads: int = 1

    @classmethod
    def parse(cls, text: str) -> WorkerConfig:
        """``sync:5`` or ``gthread:2x4`` (workers x threads)."""
        match = re.fullmatch(r"(sync):(\d+)|(gthread):(\d+)x(\d+)", text.strip())
        if not match:
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected sync:<workers> or gthread:<workers>x<threads>"
            )
        if match.group(1):
            return cls("sync", int(match.group(2)))
        return cls("gthread", int(match.group(4)), int(match.group(5)))

    @property
    def label(self) -> str:
        return f"sync {self.workers}" if self.kind == "sync" else f"gthread {self.workers}x{self.threads}"

    def gunicorn_args(self) -> list[str]:
        if self.kind == "sync":
            return []
        return ["--worker-class", "gthread", "--threads", str(self.threads)]


@dataclass
class Run:
    config: str
    path: str
    endpoint: str
    connections: int
    repeat: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    load1: float
    others_cores: float
    cpu_ms: float  # server CPU (gunicorn, nginx, PostgreSQL) per request


@dataclass
class MemoryInfo:
    config: str
    rss_mib: list[float]
    restarts: int


@dataclass
class Options:
    configs: list[WorkerConfig]
    endpoints: list[str]
    paths: list[str]
    connections: list[int]
    duration: int
    warmup: int
    repeats: int
    users: int
    articles: int
    postgres: str
    results_dir: Path | None


# --- small helpers ----------------------------------------------------------------------------------


def busy_ticks() -> int:
    """CPU ticks spent in processes (user, nice, system) or stolen by the hypervisor (steal). Interrupt
    and softirq time is left out: on loopback it is mostly the benchmark's own network traffic."""
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    )
    return user + nice + system + steal


#: CPU ticks of the benchmark's processes, by (group, pid); group is a configuration's label or "postgres".
Snapshot = dict[tuple[str, int], int]


class CpuMeter:
    """CPU over one run: of the configuration under test (its gunicorn with the workers it reaped, its
    nginx, and the PostgreSQL backends of the bench database), and of everything that is not the
    benchmark's (busy CPU of the machine minus all of the benchmark's processes and wrk), in cores."""

    def __init__(self, snapshot: Callable[[], Snapshot], tested: str) -> None:
        self.snapshot = snapshot
        self.tested = tested

    def __enter__(self) -> CpuMeter:
        self.start_wall = time.monotonic()
        self.start_busy = busy_ticks()
        self.start = self.snapshot()
        self.start_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self.start_wall
        busy = (busy_ticks() - self.start_busy) / CLK_TCK
        deltas = {key: ticks - self.start.get(key, 0) for key, ticks in self.snapshot().items()}
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has been waited for
        client = (usage.ru_utime + usage.ru_stime) - (
            self.start_children.ru_utime + self.start_children.ru_stime
        )
        own = sum(deltas.values()) / CLK_TCK + client
        server = sum(v for (group, _), v in deltas.items() if group in (self.tested, "postgres"))
        self.server_seconds = server / CLK_TCK
        self.others_cores = max(0.0, (busy - own) / wall) if wall > 0 else 0.0


# --- PostgreSQL -------------------------------------------------------------------------------------


class Database:
    def __init__(self, server_url: str, name: str) -> None:
        self.server_url = server_url.rstrip("/")
        self.name = name
        self.created = False

    @property
    def app_url(self) -> str:
        return f"{self.server_url.replace('postgresql://', 'postgresql+psycopg://', 1)}/{self.name}"

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(f"{self.server_url}/postgres", autocommit=True, connect_timeout=5)

    def create(self) -> None:
        import psycopg
        from psycopg import sql

        try:
            with self._admin() as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        except psycopg.Error as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise BenchError(f"cannot create database {self.name} at {self.server_url}: {reason}") from None
        self.created = True

    def drop(self) -> None:
        if not self.created:
            return
        import psycopg
        from psycopg import sql

        try:
            with self._admin() as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
                )
            log.info("dropped database %s", self.name)
        except psycopg.Error as error:
            log.error("could not drop database %s: %s (drop it by hand)", self.name, error)


# --- the servers --------------------------------------------------------------------------------------


@dataclass
class Gunicorn:
    config: WorkerConfig
    port: int
    process: subprocess.Popen[bytes]
    logfile: Path
    seen: dict[int, str] = field(default_factory=dict)  # every worker seen, with its start time

    def workers(self) -> list[int]:
        found = children(self.process.pid)
        self.seen.update(found)
        return list(found)

    def booted(self) -> int:
        return self.logfile.read_text(errors="replace").count("Booting worker with pid")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.workers()
            self.process.send_signal(signal.SIGTERM)  # graceful: workers finish their requests
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("gunicorn %d did not stop in %.0f s: killing it", self.process.pid, STOP_TIMEOUT)
                self.process.kill()
                self.process.wait()
        kill_if_same(self.seen)


def start_gunicorn(config: WorkerConfig, env: dict[str, str], workdir: Path) -> Gunicorn:
    port = free_port()
    logfile = workdir / f"gunicorn-{config.kind}-{config.workers}x{config.threads}-{port}.log"
    command = [str(BIN / "conduit"), "serve", "--config", str(GUNICORN_CONF)]
    if config.gunicorn_args():
        command += ["--", *config.gunicorn_args()]
    with logfile.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            command,
            cwd=workdir,  # no .env of the checkout
            env={**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(config.workers)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # Ctrl-C reaches the bench only, which then stops gunicorn itself
        )
    server = Gunicorn(config, port, process, logfile)
    try:
        ready = wait_for(
            lambda: (
                http("GET", f"http://127.0.0.1:{port}/readyz")[0] == 200
                and len(server.workers()) >= config.workers
            ),
            START_TIMEOUT,
            alive=lambda: process.poll() is None,
        )
        text = logfile.read_text(errors="replace")
        if not ready:
            tail = text.strip().splitlines()[-1:] or ["(no output)"]
            raise BenchError(f"gunicorn ({config.label}) did not become ready; last log line: {tail[0]}")
        if f"Using worker: {config.kind}" not in text:
            raise BenchError(
                f"gunicorn ({config.label}) did not say 'Using worker: {config.kind}'; see {logfile}"
            )
    except BaseException:
        server.stop()
        raise
    return server


# --- wrk --------------------------------------------------------------------------------------------

LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %.0f, "duration_us": %.0f, "p50_us": %.0f, "p99_us": %.0f, '
    .. '"connect": %.0f, "read": %.0f, "write": %.0f, "status": %.0f, "timeout": %.0f}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def write_lua(workdir: Path, name: str, token: str | None) -> Path:
    script = workdir / f"{name}.lua"
    header = f'wrk.headers["Authorization"] = "Token {token}"\n' if token else ""
    script.write_text(f"-- written by bench/studies/worker_class.py\n{header}{LUA_DONE}")
    return script


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    command += ["-s", str(script), url]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=seconds + 30)  # noqa: S603
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            values: dict[str, float] = json.loads(line[6:])
            return values
    detail = (result.stderr or result.stdout).strip().splitlines()
    raise BenchError(
        f"wrk gave no summary for {url}: {detail[-1] if detail else f'exit {result.returncode}'}"
    )


# --- the benchmark ------------------------------------------------------------------------------------


def login(base: str) -> str:
    status, body = http(
        "POST", f"{base}/api/users/login", {"user": {"email": SEED_EMAIL, "password": "password123"}}
    )
    if status != 200 or not isinstance(body, dict):
        raise BenchError(f"login as {SEED_EMAIL} failed with status {status}")
    token: str = body["user"]["token"]
    return token


def check_endpoints(base: str, token: str) -> None:
    status, body = http("GET", f"{base}/api/articles?limit=20", token=token)
    if status != 200 or len((body or {}).get("articles", [])) != 20:
        raise BenchError(f"GET /api/articles?limit=20 via {base} answered {status} without 20 articles")
    status, body = http("GET", f"{base}/api/tags")
    if status != 200 or not (body or {}).get("tags"):
        raise BenchError(f"GET /api/tags via {base} answered {status} without tags")


@dataclass
class Stack:
    """One configuration's gunicorn and the nginx in front of it."""

    config: WorkerConfig
    app: Gunicorn
    proxy: Nginx

    @property
    def bases(self) -> dict[str, str]:
        return {"nginx": f"http://127.0.0.1:{self.proxy.port}", "direct": f"http://127.0.0.1:{self.app.port}"}


class Bench:
    def __init__(self, options: Options, database: Database, env: dict[str, str], workdir: Path) -> None:
        self.o = options
        self.database = database
        self.env = env
        self.workdir = workdir
        self.nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
        self.runs: list[Run] = []
        self.memory: list[MemoryInfo] = []
        self.started = time.monotonic()

    def say(self, message: str, *args: object) -> None:
        log.info("[%5.0fs] " + message, time.monotonic() - self.started, *args)

    def start(self, stacks: list[Stack]) -> None:
        for config in self.o.configs:
            app = start_gunicorn(config, self.env, self.workdir)
            try:
                proxy = start_nginx(self.nginx_bin, app.port, self.workdir / f"nginx-{app.port}")
            except BaseException:
                app.stop()
                raise
            stacks.append(Stack(config, app, proxy))
            self.say("started %s: gunicorn :%d, nginx :%d", config.label, app.port, proxy.port)

    def measure(self, stacks: list[Stack]) -> None:
        token = login(stacks[0].bases["direct"])
        scripts = {
            name: write_lua(self.workdir, name, token if auth else None)
            for name, (_, auth) in ENDPOINTS.items()
        }
        for stack in stacks:
            for path in self.o.paths:
                check_endpoints(stack.bases[path], token)
            if self.o.warmup:
                for endpoint in self.o.endpoints:
                    url = stack.bases["nginx"] + ENDPOINTS[endpoint][0]
                    wrk(url, scripts[endpoint], max(self.o.connections), self.o.warmup)
        booted = {stack.config.label: stack.app.booted() for stack in stacks}
        self.say("warmed up; measuring")

        def snapshot() -> Snapshot:
            table = proc_table()
            ticks: Snapshot = {}
            for stack in stacks:
                label, master = stack.config.label, stack.app.process.pid
                if master in table:  # the master, what it reaped, and its live workers
                    workers = sum(p.ticks for p in table.values() if p.ppid == master)
                    ticks[(label, master)] = table[master].ticks + table[master].reaped + workers
                nginx = stack.proxy.pid
                for pid, proc in table.items():
                    if pid == nginx or proc.ppid == nginx:
                        ticks[(label, pid)] = proc.ticks
            for pid in postgres_backends(self.database.name, table):
                ticks[("postgres", pid)] = table[pid].ticks
            return ticks

        cells = [(p, e, c) for p in self.o.paths for e in self.o.endpoints for c in self.o.connections]
        for repeat in range(1, self.o.repeats + 1):
            self.say("round %d/%d", repeat, self.o.repeats)
            for number, (path, endpoint, connections) in enumerate(cells):
                shift = (repeat - 1 + number) % len(stacks)
                for stack in stacks[shift:] + stacks[:shift]:
                    url = stack.bases[path] + ENDPOINTS[endpoint][0]
                    before = load1()
                    with CpuMeter(snapshot, stack.config.label) as meter:
                        result = wrk(url, scripts[endpoint], connections, self.o.duration)
                    run = Run(
                        config=stack.config.label,
                        path=path,
                        endpoint=endpoint,
                        connections=connections,
                        repeat=repeat,
                        rps=result["requests"] / (result["duration_us"] / 1e6),
                        p50_ms=result["p50_us"] / 1000,
                        p99_ms=result["p99_us"] / 1000,
                        requests=int(result["requests"]),
                        non_2xx=int(result["status"]),
                        socket_errors=int(
                            result["connect"] + result["read"] + result["write"] + result["timeout"]
                        ),
                        load1=before,
                        others_cores=meter.others_cores,
                        cpu_ms=meter.server_seconds * 1000 / max(1, int(result["requests"])),
                    )
                    self.runs.append(run)
                    errors = f", {run.non_2xx} non-2xx" if run.non_2xx else ""
                    errors += f", {run.socket_errors} socket errors" if run.socket_errors else ""
                    self.say(
                        "%-12s %-6s %-8s c=%-3d %7.1f req/s  p50 %6.1f ms  p99 %7.1f ms  %5.2f CPU ms/req%s  "
                        "(load %.2f, others %.2f cores)",
                        run.config,
                        path,
                        endpoint,
                        connections,
                        run.rps,
                        run.p50_ms,
                        run.p99_ms,
                        run.cpu_ms,
                        errors,
                        run.load1,
                        run.others_cores,
                    )
        for stack in stacks:
            rss = [r for r in (rss_mib(pid) for pid in stack.app.workers()) if r is not None]
            restarts = max(0, stack.app.booted() - booted[stack.config.label])
            self.memory.append(MemoryInfo(stack.config.label, rss, restarts))

    def run(self) -> None:
        stacks: list[Stack] = []
        try:
            self.start(stacks)
            self.measure(stacks)
        finally:
            for stack in reversed(stacks):
                try:
                    stack.proxy.stop()
                finally:
                    stack.app.stop()


# --- the report ---------------------------------------------------------------------------------------


def fmt_range(values: list[float], digits: int = 2) -> str:
    return (
        f"{min(values):.{digits}f}-{max(values):.{digits}f} (median {statistics.median(values):.{digits}f})"
    )


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    try:
        found["gunicorn"] = importlib.metadata.version("gunicorn")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - the venv has it
        found["gunicorn"] = "?"
    for name, command, pattern in (
        ("nginx", ["nginx", "-v"], r"nginx/(\S+)"),
        ("wrk", ["wrk", "-v"], r"^wrk (\S+)"),
    ):
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        match = re.search(pattern, result.stderr + result.stdout, re.MULTILINE)
        found[name] = match.group(1) if match else "?"
    return found


def git_state() -> str:
    git = shutil.which("git")
    if git is None:
        return "?"

    def output(*args: str) -> str:
        command = [git, "-C", str(ROOT), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout  # noqa: S603

    dirty = [line for line in output("status", "--porcelain").splitlines() if line.strip()]
    suffix = f" with {len(dirty)} uncommitted path(s) in the working tree" if dirty else ""
    return f"{output('rev-parse', '--short', 'HEAD').strip() or '?'}{suffix}"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def paired(
    o: Options,
    cells: dict[tuple[str, str, int, str], list[Run]],
    baseline: str,
    challengers: list[str],
    metric: str,
) -> tuple[list[str], dict[tuple[str, str], list[tuple[float, str]]]]:
    """Rows of per-round ratios against the baseline, and per (path, configuration) the median ratio and
    its sign (higher, lower, mixed) of every cell."""
    rows = []
    verdicts: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for path in o.paths:
        for endpoint in o.endpoints:
            for connections in o.connections:
                base = {
                    r.repeat: getattr(r, metric)
                    for r in cells.get((path, endpoint, connections, baseline), [])
                }
                row = []
                for label in challengers:
                    runs = cells.get((path, endpoint, connections, label), [])
                    ratios = [getattr(r, metric) / base[r.repeat] for r in runs if base.get(r.repeat)]
                    if not ratios:
                        row.append("-")
                        continue
                    middle, low, high = statistics.median(ratios), min(ratios), max(ratios)
                    sign = "mixed" if low <= 1 <= high else ("higher" if middle > 1 else "lower")
                    verdicts.setdefault((path, label), []).append((middle, sign))
                    row.append(
                        f"{'~' if sign == 'mixed' else ''}{(middle - 1) * 100:+.0f}% "
                        f"({(low - 1) * 100:+.0f}..{(high - 1) * 100:+.0f})"
                    )
                rows.append(f"| {path} | {endpoint} | {connections} | " + " | ".join(row) + " |")
    return rows, verdicts


def report(bench: Bench, elapsed: float, idle_load: tuple[float, float, float]) -> str:
    o = bench.o
    labels = [c.label for c in o.configs]
    cells: dict[tuple[str, str, int, str], list[Run]] = {}
    for run in bench.runs:
        cells.setdefault((run.path, run.endpoint, run.connections, run.config), []).append(run)
    v = versions()
    loads = [r.load1 for r in bench.runs]
    others = [r.others_cores for r in bench.runs]
    lines = [
        "# gunicorn worker class for Conduit: sync against gthread",
        "",
        f"- When: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; `bench/studies/worker_class.py` took "
        f"{elapsed / 60:.1f} min.",
        f"- Machine: {os.cpu_count()} cores ({cpu_model()}), Linux {platform.release()}; "
        f"Python {v['python']}, gunicorn {v['gunicorn']}, nginx {v['nginx']}, wrk {v['wrk']}.",
        f"- Code: {git_state()}.",
        f"- Data: PostgreSQL, `conduit seed --users {o.users} --articles {o.articles}` (seed 42).",
        "- Servers: per configuration one gunicorn (deploy/gunicorn.conf.py, CONDUIT_ENV=production, "
        "no Redis; as deployed: access log on, max_requests 2000 +- 200) behind its own private nginx "
        "rendered from deploy/nginx (1 worker, upstream keepalive 16). All configurations run side by "
        "side; only the one under load is busy.",
        f"- Load: `wrk -t1 -c<N> -d{o.duration}s --latency --timeout 10s` after a {o.warmup} s warm-up per "
        f"endpoint. {o.repeats} rounds; in each round every cell is measured for each configuration back to "
        "back, the order rotating from cell to cell and round to round. Cells show the median of the rounds.",
        "- Endpoints: articles = `GET /api/articles?limit=20` with `Authorization: Token <jwt>` of a seeded "
        "user; tags = anonymous `GET /api/tags`.",
        f"- Machine noise: load average {idle_load[0]:.2f} / {idle_load[1]:.2f} / {idle_load[2]:.2f} "
        f"(1/5/15 min) before the benchmark; 1-min load before each run {fmt_range(loads)} (includes the "
        f"benchmark itself); CPU used by processes other than the benchmark's during the runs "
        f"{fmt_range(others)} cores of {os.cpu_count()}.",
        "",
        "## Throughput and latency (median of the rounds)",
        "",
        "| path | endpoint | conns | config | req/s | req/s of the rounds | p50 ms | p99 ms | CPU ms/req "
        "| non-2xx | socket errors | others' CPU (cores) |",
        "|---|---|--:|---|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    for path in o.paths:
        for endpoint in o.endpoints:
            for connections in o.connections:
                for label in labels:
                    runs = sorted(cells.get((path, endpoint, connections, label), []), key=lambda r: r.repeat)
                    if not runs:
                        continue
                    lines.append(
                        f"| {path} | {endpoint} | {connections} | {label} "
                        f"| {statistics.median(r.rps for r in runs):.0f} "
                        f"| {', '.join(f'{r.rps:.0f}' for r in runs)} "
                        f"| {statistics.median(r.p50_ms for r in runs):.1f} "
                        f"| {statistics.median(r.p99_ms for r in runs):.1f} "
                        f"| {statistics.median(r.cpu_ms for r in runs):.2f} | {sum(r.non_2xx for r in runs)} "
                        f"| {sum(r.socket_errors for r in runs)} "
                        f"| {statistics.median(r.others_cores for r in runs):.2f} |"
                    )
    baseline, challengers = labels[0], labels[1:]
    if challengers:
        summary: list[str] = []
        for title, metric, note in (
            ("req/s", "rps", "higher is better"),
            ("server CPU per request", "cpu_ms", "lower is better"),
        ):
            table, verdicts = paired(o, cells, baseline, challengers, metric)
            lines += [
                "",
                f"## Against {baseline}: {title} ({note})",
                "",
                f"Each round gives one ratio per cell, the configuration's value over {baseline}'s, measured "
                "seconds apart. Shown: the median change, in brackets the lowest and highest of the rounds; "
                "`~` marks a cell whose rounds disagree on the sign (within noise).",
                "",
                "| path | endpoint | conns | " + " | ".join(challengers) + " |",
                "|---|---|--:|" + "--:|" * len(challengers),
                *table,
            ]
            for (path, label), kinds in verdicts.items():
                mean = math.exp(statistics.fmean(math.log(ratio) for ratio, _ in kinds))
                signs = [sign for _, sign in kinds]
                summary.append(
                    f"- {path}, {title}: {label} against {baseline}: {(mean - 1) * 100:+.1f}% "
                    f"(geometric mean of {len(kinds)} cells); higher in every round in "
                    f"{signs.count('higher')} cells, lower in every round in {signs.count('lower')}, "
                    f"mixed in {signs.count('mixed')}."
                )
        lines += ["", "## Summary", "", *summary]
    lines += [
        "",
        "## Memory (workers' VmRSS after the runs)",
        "",
        "| config | workers x threads | RSS per worker MiB (median) | all workers MiB "
        "| worker restarts (max_requests) during the runs |",
        "|---|---|--:|--:|--:|",
    ]
    for config in o.configs:
        for info in (m for m in bench.memory if m.config == config.label):
            per_worker = statistics.median(info.rss_mib) if info.rss_mib else 0.0
            lines.append(
                f"| {config.label} | {config.workers} x {config.threads} | {per_worker:.1f} "
                f"| {sum(info.rss_mib):.1f} | {info.restarts} |"
            )
    return "\n".join(lines) + "\n"


# --- main ---------------------------------------------------------------------------------------------


def estimate_seconds(o: Options) -> float:
    cells = len(o.paths) * len(o.endpoints) * len(o.connections)
    per_config = 5 + len(o.endpoints) * (o.warmup + 0.3) + o.repeats * cells * (o.duration + 0.3)
    return 10 + len(o.configs) * per_config


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/studies/worker_class.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def csv(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
        return lambda text: [kind(part) for part in text.split(",") if part.strip()]

    def choice(allowed: Iterable[str]) -> Callable[[str], str]:
        allowed = tuple(allowed)

        def check(text: str) -> str:
            if text not in allowed:
                raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(allowed)}")
            return text

        return check

    parser.add_argument(
        "--configs",
        type=csv(WorkerConfig.parse),
        default=[WorkerConfig.parse(t) for t in ("sync:5", "gthread:2x4", "gthread:3x2")],
        help="worker configurations, the first is the baseline (default: sync:5,gthread:2x4,gthread:3x2)",
    )
    parser.add_argument(
        "--endpoints",
        type=csv(choice(ENDPOINTS)),
        default=list(ENDPOINTS),
        help="articles,tags (default: both)",
    )
    parser.add_argument(
        "--paths", type=csv(choice(PATHS)), default=list(PATHS), help="nginx,direct (default: both)"
    )
    parser.add_argument(
        "--connections", type=csv(int), default=[8, 32], help="wrk connections (default: 8,32)"
    )
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run (default: 4)")
    parser.add_argument(
        "--warmup", type=int, default=2, help="warm-up seconds per endpoint and configuration (default: 2)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="rounds: runs per cell and configuration (default: 3)"
    )
    parser.add_argument("--users", type=int, default=200, help="seeded users (default: 200)")
    parser.add_argument("--articles", type=int, default=2000, help="seeded articles (default: 2000)")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432",
        help="PostgreSQL server (superuser, no password) where conduit_bench_<pid> is made and dropped",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where the Markdown report goes (default: bench/results)",
    )
    parser.add_argument("--no-save", action="store_true", help="print the report only")
    args = parser.parse_args(argv)
    if not args.configs or not args.endpoints or not args.paths or not args.connections:
        parser.error("--configs, --endpoints, --paths and --connections need at least one value each")
    if args.duration < 1 or args.warmup < 0 or args.repeats < 1:
        parser.error("--duration and --repeats must be at least 1, --warmup at least 0")
    return Options(
        configs=args.configs,
        endpoints=args.endpoints,
        paths=args.paths,
        connections=args.connections,
        duration=args.duration,
        warmup=args.warmup,
        repeats=args.repeats,
        users=args.users,
        articles=args.articles,
        postgres=args.postgres,
        results_dir=None if args.no_save else args.results_dir,
    )


def terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="worker_class: %(message)s", stream=sys.stderr)
    options = parse_args(argv)
    for tool in ("wrk", "nginx"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            log.error("%s is not installed (apt-get install %s)", tool, tool)
            return 1
    signal.signal(signal.SIGTERM, terminate)
    started = time.monotonic()
    first, five, fifteen = (float(x) for x in Path("/proc/loadavg").read_text().split()[:3])
    idle_load = (first, five, fifteen)
    log.info(
        "%d configurations x %d rounds, about %.1f min; load average now %.2f %.2f %.2f",
        len(options.configs),
        options.repeats,
        estimate_seconds(options) / 60,
        *idle_load,
    )
    database = Database(options.postgres, f"conduit_bench_{os.getpid()}")
    workdir = Path(tempfile.mkdtemp(prefix="conduit-bench-"))
    try:
        database.create()
        env = app_environment(database.app_url, secrets.token_urlsafe(48))
        log.info(
            "database %s: conduit deploy, conduit seed (%d users, %d articles)",
            database.name,
            options.users,
            options.articles,
        )
        run_quiet([str(BIN / "conduit"), "deploy"], "conduit deploy", env=env, cwd=workdir)
        seeded = run_quiet(
            [
                str(BIN / "conduit"),
                "seed",
                "--users",
                str(options.users),
                "--articles",
                str(options.articles),
            ],
            "conduit seed",
            env=env,
            cwd=workdir,
        )
        log.info("%s", seeded.strip())
        bench = Bench(options, database, env, workdir)
        bench.run()
        elapsed = time.monotonic() - started
        text = report(bench, elapsed, idle_load)
    except BenchError as error:
        log.error("%s", error)
        if any(workdir.iterdir()):
            log.error("logs kept in %s", workdir)
        else:
            workdir.rmdir()
        return 1
    except (KeyboardInterrupt, SystemExit) as stop:
        log.error("interrupted")
        shutil.rmtree(workdir, ignore_errors=True)
        return 130 if isinstance(stop, KeyboardInterrupt) else int(stop.code or 1)
    finally:
        database.drop()  # after every server is stopped (Bench.run stops them in its finally)
    shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.write(text)
    if options.results_dir is not None:
        options.results_dir.mkdir(parents=True, exist_ok=True)
        target = options.results_dir / f"worker-class-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.md"
        target.write_text(text)
        log.info("report written to %s", target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
    log.info("done in %.1f min", (time.monotonic() - started) / 60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
