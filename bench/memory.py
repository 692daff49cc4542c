"""Memory of a gunicorn worker (issue 16: RSS <= 80 MB, USS <= 45 MiB per worker): Conduit against the Flask
hello-world, both under deploy/gunicorn.conf.py, after the same warm-up.

Each server is started as ``make bench`` starts it (bench/bench_servers.py: production profile, the
study's own PostgreSQL database seeded with ``conduit seed``, Redis, Prometheus multiprocess mode, 2
workers x 2 threads unless told otherwise), gets ``--requests`` requests spread over the read endpoints
(with and without a token), and then each worker's ``/proc/PID/smaps_rollup`` is read: RSS (every page
the worker maps, shared ones in full), PSS (shared pages split between the processes that map them) and
USS (pages only this worker maps). ``--variants`` adds Conduit servers run differently: ``preload``
(gunicorn's ``--preload``: the app imported once in the master, the workers forked from it),
``preload-freeze`` (the same, with ``gc.freeze()`` in the master before each fork, so the collector
leaves the inherited objects' pages alone) and ``arenas`` (``MALLOC_ARENA_MAX=2``). Progress on stderr,
the table on stdout (and ``--output``).

Run it with the runtime dependencies only, as a server has them (``make install VENV=.venv-runtime``):
the development virtualenv also holds packages that the libraries import when present (cryptography,
8.6 MiB per worker through PyJWT and redis-py), which a production install does not have.

    make install VENV=.venv-runtime
    .venv-runtime/bin/python bench/memory.py --variants preload preload-freeze arenas
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import bench_servers
from bench_servers import AppServer, ServerSpec, smaps, start_server
from overhead import READER, drop_database, prepare_database, production_environment, say

PRELOAD = ("GUNICORN_CMD_ARGS", "--preload")
VARIANTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "preload": ("Conduit, --preload", (PRELOAD,)),
    "preload-freeze": ("Conduit, --preload, gc.freeze() before fork", (PRELOAD,)),
    "arenas": ("Conduit, MALLOC_ARENA_MAX=2", (("MALLOC_ARENA_MAX", "2"),)),
}
PATHS = [
    "/api/articles?limit=20",
    "/api/articles?limit=5&offset=10",
    "/api/tags",
    "/api/articles/feed",
    "/api/user",
    "/healthz",
    "/readyz",
]


def get(url: str, token: str | None = None, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - our own loopback server
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def warm_up(server: AppServer, requests: int, conduit: bool) -> None:
    base = server.direct
    token = None
    if conduit:
        status, answer = get(
            f"{base}/api/users/login", body={"user": {"email": READER, "password": "password123"}}
        )
        if status != 200:
            raise SystemExit(f"memory: login answered {status}")
        token = json.loads(answer)["user"]["token"]
        first = json.loads(get(f"{base}/api/articles?limit=1")[1])["articles"][0]
        paths = [*PATHS, f"/api/articles/{first['slug']}", f"/api/profiles/{first['author']['username']}"]
    else:
        paths = ["/", "/healthz"]
    for number in range(requests):
        path = paths[number % len(paths)]
        status, _ = get(base + path, token if number % 2 else None)
        if status >= 500:
            raise SystemExit(f"memory: {path} answered {status}")


FREEZE_CONF = """
exec(compile(open({conf!r}).read(), {conf!r}, "exec"))


def pre_fork(server, worker):
    import gc

    gc.freeze()
"""


def measure(
    name: str, spec: ServerSpec, env: dict[str, str], workdir: Path, requests: int, freeze: bool = False
) -> dict[str, Any]:
    say(f"{name}: starting {spec.app} ({spec.workers} workers)")
    deployed = bench_servers.GUNICORN_CONF
    if freeze:  # deploy/gunicorn.conf.py plus a pre_fork hook, for this server only
        conf = workdir / "gunicorn-freeze.conf.py"
        conf.write_text(FREEZE_CONF.format(conf=str(deployed)))
        bench_servers.GUNICORN_CONF = conf
    try:
        server = start_server(spec, env, workdir, with_nginx=False)
    finally:
        bench_servers.GUNICORN_CONF = deployed
    try:
        warm_up(server, requests, conduit=spec.app.startswith("conduit"))
        workers = server.workers()
        figures = []
        for pid in workers:
            private = smaps(pid)
            rss = _rss_mib(pid)
            if private is not None and rss is not None:
                figures.append({"rss": rss, **private})
        master = _rss_mib(server.process.pid)
    finally:
        server.stop()
    say(f"{name}: " + ", ".join(f"RSS {f['rss']} PSS {f['pss_mib']} USS {f['uss_mib']}" for f in figures))
    return {"name": name, "workers": figures, "master_rss": master}


def _rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| server | worker RSS, MiB | worker PSS, MiB | worker USS, MiB | master RSS, MiB |",
        "|---|--:|--:|--:|--:|",
    ]
    for row in rows:

        def median(key: str, row: dict[str, Any] = row) -> str:
            return f"{statistics.median(w[key] for w in row['workers']):.1f}" if row["workers"] else "-"

        lines.append(
            f"| {row['name']} | {median('rss')} | {median('pss_mib')} | {median('uss_mib')} | "
            f"{row['master_rss']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="conduit_memory", help="PostgreSQL database of this study")
    parser.add_argument("--reuse-database", action="store_true", help="use it as it is (already seeded)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=600, help="warm-up requests per server")
    parser.add_argument(
        "--variants", nargs="*", default=[], choices=VARIANTS, help="also these Conduit servers"
    )
    parser.add_argument("--src", type=Path, help="import conduit from this src/ folder (another revision)")
    parser.add_argument("--output", type=Path, help="also write the table (markdown) here")
    args = parser.parse_args(argv)
    path = (("PYTHONPATH", f"{args.src.resolve()}:{Path(__file__).resolve().parent}"),) if args.src else ()

    prefix = f"memory-{os.getpid()}:"
    with tempfile.TemporaryDirectory(prefix="conduit-memory-") as tmp:
        workdir = Path(tmp)
        env = production_environment(args.database, args.redis_url, prefix, str(workdir / "metrics"))
        env.pop("METRICS_PORT")
        if not args.reuse_database:
            prepare_database(args.database, 50, 200, env)
        try:
            specs = [
                ("Flask hello-world", ServerSpec("hello", "baselines:flask_app", args.workers)),
                ("Conduit", ServerSpec("conduit", "conduit.wsgi:app", args.workers, extra_env=path)),
            ]
            for variant in args.variants:
                label, extra = VARIANTS[variant]
                specs.append(
                    (label, ServerSpec(variant, "conduit.wsgi:app", args.workers, extra_env=(*extra, *path)))
                )
            rows = [
                measure(name, spec, env, workdir, args.requests, freeze=spec.name == "preload-freeze")
                for name, spec in specs
            ]
        finally:
            if not args.reuse_database:
                drop_database(args.database)
    report = (
        f"{args.src or 'this checkout'}: {args.workers} workers x 2 threads, "
        f"{args.requests} warm-up requests "
        "per server; median of the "
        f"workers; load average {os.getloadavg()[0]:.1f}\n\n{table(rows)}\n"
    )
    sys.stdout.write(report)
    if args.output:
        args.output.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
