"""`make bench`: Conduit's endpoints against a Flask hello-world and a bare WSGI callable, in one run, on
one server configuration (CONDUIT_ENV=production), direct and through nginx. --server picks the app server
for all of them: gunicorn with deploy/gunicorn.conf.py (the default, as deployed), granian (WSGI, blocking
threads), or uWSGI with deploy/uwsgi/conduit.ini (nginx over the uwsgi protocol on a unix socket, the
direct path over an HTTP 1.1 socket); each with --workers processes x 2 threads.

1. The PostgreSQL database BENCH_DATABASE (conduit_bench) is made afresh (never `postgres` or `test`),
   migrated with `conduit deploy` and filled by `conduit seed` (BENCH_SCALE 1 = 1,000 users and 10,000
   articles with tags, favourites, follows and comments).
2. SQL statements per request are counted in-process (a SQLAlchemy event on the same database).
3. Three app servers start side by side, each with a private nginx: Conduit, the Flask hello-world and the
   bare WSGI callable (bench/baselines.py); plus Conduit with 1 and with 2 workers for the scaling figures.
4. wrk (bench/wrk/request.lua, with a seeded user's JWT) loads every endpoint at every connection count,
   direct and through nginx, interleaving the baselines with the endpoints so that all of them see the
   same machine. Each run records req/s, latency percentiles, errors and the server CPU per request.
5. Workers' RSS at the end. Results: bench/results/<UTC timestamp>.json and .md, plus PNG plots
   (throughput against connections, latency percentiles).

`--render RESULTS.json` writes the Markdown report and the plots of an earlier run again.

With --soak N it instead serves N requests (endpoints in turn) from one Conduit with worker recycling
off, sampling each worker's RSS, to see whether memory grows.

Options also come from the environment: BENCH_DURATION, BENCH_CONNECTIONS, BENCH_SCALE, BENCH_ENDPOINTS,
BENCH_PATHS, BENCH_REPEATS, BENCH_WARMUP, BENCH_DATABASE, BENCH_POSTGRES, BENCH_RESULTS_DIR, BENCH_SERVER,
BENCH_WORKERS, BENCH_MAX_REQUESTS, BENCH_REDIS_URL, BENCH_SOAK, BENCH_SOAK_MINUTES. Progress goes to
stderr. Needs wrk, nginx and a PostgreSQL server with trust authentication.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_servers import (
    CONDUIT_APP,
    SERVER_KINDS,
    AppServer,
    CpuMeter,
    ServerSpec,
    start_server,
    stop_all,
)
from bench_sql import Probe, count_statements
from processes import BIN, ROOT, BenchError, app_environment, http, load1, run_quiet

RESULTS_DIR = ROOT / "bench" / "results"
LUA = ROOT / "bench" / "wrk" / "request.lua"
PROTECTED_DATABASES = {"postgres", "test", "template0", "template1"}
READER = "demo1@demo.example.com"
WRITER = "demo2@demo.example.com"
BENCH_TITLE = "Bench article %"
#: A 1-minute load average from this up, before the run, means other work shares the cores.
SHARED_LOAD = 0.5
ENDPOINTS = ("hello", "wsgi", "articles", "articles_auth", "feed", "article", "comments", "tags", "create")
SCALING_ENDPOINTS = ("hello", "articles_auth", "article", "tags")

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Endpoint:
    name: str
    server: str
    method: str
    paths: tuple[str, ...]
    token: str | None
    label: str


@dataclass
class Run:
    server: str
    path: str
    endpoint: str
    connections: int
    repeat: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    cpu_ms: float
    db_cpu_ms: float
    load1: float


@dataclass
class Options:
    duration: int
    warmup: int
    repeats: int
    connections: list[int]
    endpoints: list[str]
    paths: list[str]
    scale: float
    database: str
    postgres: str
    results_dir: Path | None
    server: str
    workers: int
    scaling: bool
    soak: int
    soak_minutes: float
    keep_database: bool
    #: Redis for the app (token, tags and anonymous first-page caches), as deployed; "" runs without
    #: (embedded mode).
    redis_url: str = ""
    #: Requests before a worker is recycled (gunicorn's max_requests, uWSGI's max-requests); None: as
    #: deployed (2000), 0: never. granian recycles nothing either way.
    max_requests: int | None = None

    @property
    def users(self) -> int:
        return max(3, round(1000 * self.scale))

    @property
    def articles(self) -> int:
        return max(60, round(10000 * self.scale))


@dataclass
class Results:
    options: Options
    started: str
    machine: dict[str, Any]
    dataset: dict[str, int] = field(default_factory=dict)
    sql: dict[str, dict[str, float]] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)
    soak: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


# --- setup -----------------------------------------------------------------------------------------------


def admin_sql(server: str, statement: Any) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def recreate_database(o: Options) -> None:
    from psycopg import sql

    if o.database in PROTECTED_DATABASES or not o.database.replace("_", "").isalnum():
        raise BenchError(f"refusing to use database {o.database!r}; pick a name of the benchmark's own")
    name = sql.Identifier(o.database)
    admin_sql(o.postgres, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    admin_sql(o.postgres, sql.SQL("CREATE DATABASE {}").format(name))


def drop_database(o: Options) -> None:
    from psycopg import sql

    admin_sql(
        o.postgres, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(o.database))
    )


def app_url(o: Options) -> str:
    return f"{o.postgres.replace('postgresql://', 'postgresql+psycopg://', 1)}/{o.database}"


def seed(o: Options, env: dict[str, str], workdir: Path) -> dict[str, int]:
    env = {**env, "SLOW_QUERY_MS": "0", "LOG_LEVEL": "WARNING"}  # bulk inserts are slow by design
    run_quiet([str(BIN / "conduit"), "deploy"], "conduit deploy", env=env, cwd=workdir)
    command = [str(BIN / "conduit"), "seed", "--users", str(o.users), "--articles", str(o.articles)]
    result = subprocess.run(  # noqa: S603 - our own console script; its progress bar goes to our stderr
        command, env=env, cwd=workdir, stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"conduit seed failed (exit {result.returncode})")
    # "seed: 5 users, 12 follows, ..." (the line after it says how to sign in)
    line = next(
        text for text in result.stdout.splitlines() if text.startswith("seed: ") and text[6:7].isdigit()
    )
    counts = {}
    for part in line.removeprefix("seed: ").split(", "):
        number, _, what = part.partition(" ")
        counts[what] = int(number)
    return counts


def remove_bench_articles(o: Options) -> None:
    import psycopg

    with psycopg.connect(f"{o.postgres}/{o.database}", autocommit=True, connect_timeout=5) as conn:
        conn.execute("DELETE FROM articles WHERE title LIKE %s", (BENCH_TITLE,))


def login(base: str, email: str) -> str:
    status, body = http(
        "POST", f"{base}/api/users/login", {"user": {"email": email, "password": "password123"}}
    )
    if status != 200 or not isinstance(body, dict):
        raise BenchError(f"login as {email} failed with status {status}")
    token: str = body["user"]["token"]
    return token


def endpoints(base: str, reader: str, writer: str) -> dict[str, Endpoint]:
    status, body = http("GET", f"{base}/api/articles?limit=50")
    slugs = [article["slug"] for article in (body or {}).get("articles", [])]
    if status != 200 or not slugs:
        raise BenchError(f"GET /api/articles answered {status} without articles")
    article_paths = tuple(f"/api/articles/{slug}" for slug in slugs)
    return {
        e.name: e
        for e in (
            Endpoint("hello", "hello", "GET", ("/api/hello",), None, "Flask hello-world"),
            Endpoint("wsgi", "wsgi", "GET", ("/api/hello",), None, "bare WSGI callable"),
            Endpoint(
                "articles",
                "conduit",
                "GET",
                ("/api/articles?limit=20",),
                None,
                "GET /api/articles (anonymous)",
            ),
            Endpoint(
                "articles_auth",
                "conduit",
                "GET",
                ("/api/articles?limit=20",),
                reader,
                "GET /api/articles (token)",
            ),
            Endpoint(
                "feed", "conduit", "GET", ("/api/articles/feed?limit=20",), reader, "GET /api/articles/feed"
            ),
            Endpoint("article", "conduit", "GET", article_paths, reader, "GET /api/articles/:slug"),
            Endpoint(
                "comments",
                "conduit",
                "GET",
                tuple(p + "/comments" for p in article_paths),
                reader,
                "GET /api/articles/:slug/comments",
            ),
            Endpoint("tags", "conduit", "GET", ("/api/tags",), None, "GET /api/tags"),
            Endpoint("create", "conduit", "POST", ("/api/articles",), writer, "POST /api/articles"),
        )
    }


def sql_probes(ends: dict[str, Endpoint]) -> dict[str, Probe]:
    probes = {
        name: Probe(e.method, e.paths, e.token is not None)
        for name, e in ends.items()
        if e.server == "conduit" and name != "create"
    }
    for limit in (1, 100):
        probes[f"articles_auth limit={limit}"] = Probe("GET", (f"/api/articles?limit={limit}",), True)
        probes[f"feed limit={limit}"] = Probe("GET", (f"/api/articles/feed?limit={limit}",), True)
    body = {"article": {"title": "Bench article sql", "description": "d", "body": "b", "tagList": ["bench"]}}
    probes["create"] = Probe("POST", ("/api/articles",), True, body)
    return probes


# --- load -------------------------------------------------------------------------------------------------


def wrk(url: str, endpoint: Endpoint, connections: int, seconds: int) -> dict[str, float]:
    env = {
        **os.environ,
        "BENCH_PATHS": " ".join(endpoint.paths),
        "BENCH_TOKEN": endpoint.token or "",
        "BENCH_METHOD": endpoint.method,
    }
    threads = 2 if connections >= 64 else 1
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    command += ["-s", str(LUA), url]
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, env=env, check=False, timeout=seconds + 60
    )
    summaries = [json.loads(line[6:]) for line in result.stdout.splitlines() if line.startswith("BENCH ")]
    if not summaries:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BenchError(f"wrk gave no summary for {url}: {detail[-1] if detail else result.returncode}")
    values: dict[str, float] = summaries[-1]
    return values


class Bench:
    def __init__(self, o: Options, results: Results, env: dict[str, str], workdir: Path) -> None:
        self.o = o
        self.results = results
        self.env = env
        self.workdir = workdir
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        log.info("[%5.0fs] %s", time.monotonic() - self.started, message)

    def measure(self, server: AppServer, path: str, endpoint: Endpoint, connections: int, repeat: int) -> Run:
        url = server.base(path) + endpoint.paths[0]
        before = load1()
        with CpuMeter(server, path == "nginx", self.o.database) as meter:
            r = wrk(url, endpoint, connections, self.o.duration)
        if endpoint.method == "POST":
            remove_bench_articles(self.o)
        requests = int(r["requests"])
        run = Run(
            server=server.spec.name,
            path=path,
            endpoint=endpoint.name,
            connections=connections,
            repeat=repeat,
            rps=requests / (r["duration_us"] / 1e6),
            p50_ms=r["p50_us"] / 1000,
            p90_ms=r["p90_us"] / 1000,
            p99_ms=r["p99_us"] / 1000,
            p999_ms=r["p999_us"] / 1000,
            requests=requests,
            non_2xx=int(r["status"]),
            socket_errors=int(r["connect"] + r["read"] + r["write"] + r["timeout"]),
            cpu_ms=meter.seconds * 1000 / max(1, requests),
            db_cpu_ms=meter.database_seconds * 1000 / max(1, requests),
            load1=before,
        )
        self.results.runs.append(run)
        return run

    def report_run(self, done: int, total: int, run: Run) -> None:
        errors = f"  {run.non_2xx} non-2xx" if run.non_2xx else ""
        errors += f"  {run.socket_errors} socket errors" if run.socket_errors else ""
        self.say(
            f"{done:3d}/{total} {run.server:<11} {run.path:<6} {run.endpoint:<13} c={run.connections:<3d} "
            f"{run.rps:8.1f} req/s  p50 {run.p50_ms:6.1f} ms  p99 {run.p99_ms:7.1f} ms  "
            f"{run.cpu_ms:5.2f} CPU ms/req{errors}"
        )

    def matrix(self, servers: dict[str, AppServer], ends: dict[str, Endpoint]) -> None:
        chosen = [ends[name] for name in self.o.endpoints]
        if self.o.warmup:
            self.say(f"warming up {len(chosen)} endpoints ({self.o.warmup} s each)")
            for endpoint in chosen:
                server = servers[endpoint.server]
                wrk(server.direct + endpoint.paths[0], endpoint, 8, self.o.warmup)
                if endpoint.method == "POST":
                    remove_bench_articles(self.o)
        booted = {name: s.booted() for name, s in servers.items()}
        cells = [
            (repeat, c, path, e)
            for repeat in range(1, self.o.repeats + 1)
            for c in self.o.connections
            for path in self.o.paths
            for e in chosen
        ]
        self.say(f"{len(cells)} runs of {self.o.duration} s")
        for number, (repeat, connections, path, endpoint) in enumerate(cells, 1):
            run = self.measure(servers[endpoint.server], path, endpoint, connections, repeat)
            self.report_run(number, len(cells), run)
        for name, server in servers.items():
            self.results.memory[name] = {
                "workers": server.spec.workers,
                "threads": server.spec.threads,
                "rss_mib": server.worker_rss(),
                "private": server.worker_private(),
                "restarts": max(0, server.booted() - booted[name]),
            }

    def scaling(self, ends: dict[str, Endpoint], base_env: dict[str, str]) -> None:
        """Conduit and the hello-world with 1 and with 2 workers, all four started side by side and
        measured in turn, 1 then 2 workers back to back per endpoint, for --repeats rounds (at least 2)."""
        chosen = [ends[n] for n in SCALING_ENDPOINTS if n in self.o.endpoints]
        connections = 8
        started: dict[tuple[str, int], AppServer] = {}
        try:
            for workers in (1, 2):
                for kind, app in (("conduit", CONDUIT_APP), ("hello", "baselines:flask_app")):
                    spec = ServerSpec(f"{kind}-{workers}w", app, workers, kind=self.o.server)
                    started[(kind, workers)] = start_server(spec, base_env, self.workdir, with_nginx=False)
                    self.say(f"scaling: started {spec.name} on :{started[(kind, workers)].port}")
            rounds = max(2, self.o.repeats)
            cells = [(r, e, w) for r in range(1, rounds + 1) for e in chosen for w in (1, 2)]
            for number, (repeat, endpoint, workers) in enumerate(cells, 1):
                server = started[("hello" if endpoint.server == "hello" else "conduit", workers)]
                run = self.measure(server, "direct", endpoint, connections, repeat)
                self.report_run(number, len(cells), run)
        finally:
            stop_all(list(started.values()), self.say)

    def soak(self, server: AppServer, ends: dict[str, Endpoint]) -> None:
        rotation = [ends[n] for n in ("articles_auth", "article", "comments", "tags", "articles")]
        served = 0
        chunk = 0
        sample = {"requests": 0, "rss_mib": server.worker_rss(), "seconds": 0.0}
        self.results.soak.append(sample)
        self.say(f"soak: {self.o.soak} requests; RSS per worker now {fmt_rss(sample['rss_mib'])}")
        deadline = time.monotonic() + self.o.soak_minutes * 60 if self.o.soak_minutes else None
        while served < self.o.soak and (deadline is None or time.monotonic() < deadline):
            endpoint = rotation[chunk % len(rotation)]
            r = wrk(server.direct + endpoint.paths[0], endpoint, 32, self.o.duration)
            served += int(r["requests"])
            chunk += 1
            sample = {
                "requests": served,
                "rss_mib": server.worker_rss(),
                "uss_mib": [m["uss_mib"] for m in server.worker_private()],
                "seconds": round(time.monotonic() - self.started, 1),
            }
            self.results.soak.append(sample)
            self.say(
                f"soak: {served:>7d}/{self.o.soak} requests ({endpoint.name}), "
                f"RSS per worker {fmt_rss(sample['rss_mib'])}"
            )


def fmt_rss(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values) + " MiB"


# --- main ---------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    def version(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        except OSError:
            return "?"
        return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else "?"

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    load = Path("/proc/loadavg").read_text().split()[:3]
    commit = version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = version(["git", "-C", str(ROOT), "status", "--porcelain"])
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": version(["wrk", "-v"]).split(" [")[0],
        "nginx": version(["nginx", "-v"]) if shutil.which("nginx") else version(["/usr/sbin/nginx", "-v"]),
        "commit": commit + (" (uncommitted changes)" if dirty not in ("", "?") else ""),
        "load_before": load,
        "shared": (
            f"yes: the 1-minute load average was {load[0]} before the run; compare ratios within one run"
            if float(load[0]) >= SHARED_LOAD
            else f"no other load seen before the run (1-minute load average {load[0]})"
        ),
    }


def run_bench(o: Options) -> Results:
    stamp = datetime.now(UTC)
    results = Results(options=o, started=stamp.isoformat(timespec="seconds"), machine=machine())
    workdir = Path(tempfile.mkdtemp(prefix="conduit-api-bench-"))
    secret = secrets.token_urlsafe(48)
    env = app_environment(app_url(o), secret)
    if o.redis_url:
        env.update(
            REDIS_URL=o.redis_url, REDIS_KEY_PREFIX=f"conduit-bench:{o.database}:{secrets.token_hex(4)}:"
        )
    env["RATELIMIT_ENABLED"] = "false"
    env["RATE_LIMIT_ENABLED"] = "false"
    # `conduit seed` gives the demo accounts password123, which production's common-password list refuses.
    env["PASSWORD_BLOCKLIST"] = "false"  # noqa: S105 - a switch, not a password
    servers: dict[str, AppServer] = {}
    bench = Bench(o, results, env, workdir)
    try:
        bench.say(f"database {o.database}: fresh, `conduit seed --users {o.users} --articles {o.articles}`")
        recreate_database(o)
        results.dataset = seed(o, env, workdir)
        bench.say("seeded: " + ", ".join(f"{v} {k}" for k, v in results.dataset.items()))
        specs = [ServerSpec("conduit", CONDUIT_APP, o.workers, kind=o.server)]
        if not o.soak:
            specs += [
                ServerSpec("hello", "baselines:flask_app", o.workers, kind=o.server),
                ServerSpec("wsgi", "baselines:wsgi_app", o.workers, kind=o.server),
            ]
        # No recycling in a soak: gunicorn.conf.py reads this; uWSGI gets it as --max-requests.
        if o.soak:
            env["GUNICORN_MAX_REQUESTS"] = "0"
        elif o.max_requests is not None:
            env["GUNICORN_MAX_REQUESTS"] = str(o.max_requests)
        server_env = env
        for spec in specs:
            servers[spec.name] = start_server(spec, server_env, workdir, with_nginx="nginx" in o.paths)
            bench.say(f"started {spec.name} ({spec.kind}, {spec.workers} workers x {spec.threads} threads)")
        base = servers["conduit"].direct
        ends = endpoints(base, login(base, READER), login(base, WRITER))
        if o.soak:
            bench.soak(servers["conduit"], ends)
        else:
            bench.say("counting SQL statements per request")
            results.sql = count_statements(
                app_url(o),
                secret,
                ends["articles_auth"].token or "",
                sql_probes(ends),
                redis={k: v for k, v in env.items() if k in ("REDIS_URL", "REDIS_KEY_PREFIX")},
            )
            remove_bench_articles(o)
            bench.matrix(servers, ends)
            stop_all(list(servers.values()), bench.say)
            servers.clear()
            if o.scaling:
                bench.scaling(ends, env)
    finally:
        stop_all(list(servers.values()), bench.say)
        shutil.rmtree(workdir, ignore_errors=True)
        if not o.keep_database:
            drop_database(o)
    results.seconds = round(time.monotonic() - bench.started, 1)
    return results


def env_default(name: str, default: str) -> str:
    return os.environ.get(name) or default


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/api_bench.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )

    def csv_of(kind: Any, allowed: tuple[str, ...] | None = None) -> Any:
        def parse(text: str) -> list[Any]:
            values = [kind(part.strip()) for part in text.split(",") if part.strip()]
            bad = [v for v in values if allowed is not None and v not in allowed]
            if bad or not values:
                raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(allowed or ())}")
            return values

        return parse

    add = parser.add_argument
    add(
        "--duration",
        type=int,
        default=int(env_default("BENCH_DURATION", "2")),
        help="seconds per wrk run (BENCH_DURATION, 2)",
    )
    add(
        "--warmup",
        type=int,
        default=int(env_default("BENCH_WARMUP", "1")),
        help="warm-up seconds per endpoint (BENCH_WARMUP, 1)",
    )
    add(
        "--repeats",
        type=int,
        default=int(env_default("BENCH_REPEATS", "1")),
        help="rounds of the whole matrix (BENCH_REPEATS, 1)",
    )
    add(
        "--connections",
        type=csv_of(int),
        default=csv_of(int)(env_default("BENCH_CONNECTIONS", "1,8,32,128")),
        help="wrk connections (BENCH_CONNECTIONS, 1,8,32,128)",
    )
    add(
        "--endpoints",
        type=csv_of(str, ENDPOINTS),
        default=csv_of(str, ENDPOINTS)(env_default("BENCH_ENDPOINTS", ",".join(ENDPOINTS))),
        help=f"endpoints (BENCH_ENDPOINTS, all: {','.join(ENDPOINTS)})",
    )
    add(
        "--paths",
        type=csv_of(str, ("direct", "nginx")),
        default=csv_of(str, ("direct", "nginx"))(env_default("BENCH_PATHS", "direct,nginx")),
        help="direct,nginx (BENCH_PATHS, both)",
    )
    add(
        "--scale",
        type=float,
        default=float(env_default("BENCH_SCALE", "1")),
        help="dataset: 1 = 1,000 users and 10,000 articles (BENCH_SCALE, 1)",
    )
    add(
        "--database",
        default=env_default("BENCH_DATABASE", "conduit_bench"),
        help="database to make afresh (BENCH_DATABASE, conduit_bench)",
    )
    add(
        "--postgres",
        default=env_default("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server, superuser without password (BENCH_POSTGRES)",
    )
    add(
        "--results-dir",
        type=Path,
        default=Path(env_default("BENCH_RESULTS_DIR", str(RESULTS_DIR))),
        help="where results go (BENCH_RESULTS_DIR, bench/results)",
    )
    add("--no-save", action="store_true", help="print the Markdown report only")
    add(
        "--server",
        choices=SERVER_KINDS,
        default=env_default("BENCH_SERVER", "gunicorn"),
        help="app server for every configuration: " + ", ".join(SERVER_KINDS) + " (BENCH_SERVER, gunicorn)",
    )
    add(
        "--workers",
        type=int,
        default=int(env_default("BENCH_WORKERS", str((os.cpu_count() or 1) + 1))),
        help="workers per server (BENCH_WORKERS, cores + 1 as deployed)",
    )
    add("--no-scaling", action="store_true", help="skip the 1- and 2-worker runs")
    add(
        "--soak",
        type=int,
        default=int(env_default("BENCH_SOAK", "0")),
        help="serve this many requests with recycling off and watch RSS, instead of the matrix (BENCH_SOAK)",
    )
    add(
        "--soak-minutes",
        type=float,
        default=float(env_default("BENCH_SOAK_MINUTES", "0")),
        help="stop the soak after this long even short of --soak requests (BENCH_SOAK_MINUTES; 0: no limit)",
    )
    add(
        "--max-requests",
        type=int,
        default=int(os.environ["BENCH_MAX_REQUESTS"]) if os.environ.get("BENCH_MAX_REQUESTS") else None,
        help="recycle a worker after this many requests, 0 never (BENCH_MAX_REQUESTS; default as deployed: "
        "gunicorn 2000 +- 200, uWSGI 2000 + 50 per worker; granian recycles none either way)",
    )
    add("--keep-database", action="store_true", help="leave the seeded database for EXPLAIN ANALYZE")
    add(
        "--redis-url",
        default=env_default("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for the app, as deployed (BENCH_REDIS_URL, redis://127.0.0.1:6379/0; '' for none)",
    )
    args = parser.parse_args(argv)
    if args.duration < 1 or args.warmup < 0 or args.repeats < 1 or args.scale <= 0 or args.workers < 1:
        parser.error(
            "--duration, --repeats and --workers must be at least 1, --warmup at least 0, --scale > 0"
        )
    if args.max_requests is not None and args.max_requests < 0:
        parser.error("--max-requests must be at least 0")
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        repeats=args.repeats,
        connections=args.connections,
        endpoints=args.endpoints,
        paths=args.paths,
        scale=args.scale,
        database=args.database,
        postgres=args.postgres.rstrip("/"),
        results_dir=None if args.no_save else args.results_dir,
        server=args.server,
        workers=args.workers,
        scaling=not args.no_scaling,
        soak=args.soak,
        soak_minutes=args.soak_minutes,
        keep_database=args.keep_database,
        max_requests=args.max_requests,
        redis_url=args.redis_url,
    )


def terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def save(results: Results, text: str, directory: Path) -> list[Path]:
    from bench_report import plots

    directory.mkdir(parents=True, exist_ok=True)
    stem = datetime.fromisoformat(results.started).strftime("%Y%m%dT%H%M%SZ") + (
        "-soak" if results.soak else ""
    )
    data = asdict(results)
    shown = results.options.results_dir
    if shown is not None and shown.resolve().is_relative_to(ROOT):
        shown = shown.resolve().relative_to(ROOT)  # no machine path in the committed results
    data["options"]["results_dir"] = str(shown)
    json_file = directory / f"{stem}.json"
    json_file.write_text(json.dumps(data, indent=1) + "\n")
    md_file = directory / f"{stem}.md"
    md_file.write_text(text)
    return [json_file, md_file, *plots(results, directory, stem)]


def load_results(path: Path) -> Results:
    """A results file read back, to render its report and plots again (--render)."""
    data = json.loads(path.read_text())
    fields = data["options"]
    fields["results_dir"] = None if fields["results_dir"] == "None" else Path(fields["results_dir"])
    data["options"] = Options(**fields)
    data["runs"] = [Run(**run) for run in data["runs"]]
    return Results(**data)


def setup_logging() -> None:
    """Progress on stderr through a handler of the bench's own: the in-process apps (SQL counting)
    reconfigure the root logger, which must not silence it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("bench: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--render"] and len(args) == 2:
        from bench_report import markdown

        source = Path(args[1])
        results = load_results(source)
        text = markdown(results)
        for path in save(results, text, source.parent):
            log.info("wrote %s", path)
        return 0
    options = parse_args(argv)
    for tool in ("wrk", "nginx"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            log.error("%s is not installed (apt-get install %s)", tool, tool)
            return 1
    signal.signal(signal.SIGTERM, terminate)
    try:
        results = run_bench(options)
    except BenchError as error:
        log.error("%s", error)
        return 1
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    from bench_report import markdown

    text = markdown(results)
    sys.stdout.write(text)
    if options.results_dir is not None:
        for path in save(results, text, options.results_dir):
            log.info("wrote %s", path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    log.info("done in %.1f min", results.seconds / 60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
