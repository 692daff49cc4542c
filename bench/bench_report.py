"""The Markdown report, the target checks and the PNG plots of bench/api_bench.py."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

LIST_ENDPOINT = "articles_auth"
TARGET_CONNECTIONS = 32
LABELS = {
    "hello": "Flask hello-world",
    "wsgi": "bare WSGI callable",
    "articles": "GET /api/articles?limit=20, anonymous",
    "articles_auth": "GET /api/articles?limit=20, token",
    "feed": "GET /api/articles/feed?limit=20",
    "article": "GET /api/articles/:slug",
    "comments": "GET /api/articles/:slug/comments",
    "tags": "GET /api/tags",
    "create": "POST /api/articles",
}
Cell = tuple[str, str, int]  # path, endpoint, connections


def cells(results: Any) -> dict[Cell, dict[str, float]]:
    """The median of the repeats for each (path, endpoint, connections) of the main servers."""
    grouped: dict[Cell, list[Any]] = defaultdict(list)
    for run in results.runs:
        if "-" in run.server:  # the scaling servers (conduit-1w, hello-2w)
            continue
        grouped[(run.path, run.endpoint, run.connections)].append(run)
    return {
        key: {
            name: statistics.median(getattr(r, name) for r in runs)
            for name in (
                "rps",
                "p50_ms",
                "p90_ms",
                "p99_ms",
                "p999_ms",
                "cpu_ms",
                "db_cpu_ms",
                "non_2xx",
                "socket_errors",
            )
        }
        for key, runs in grouped.items()
    }


def ratio(
    table: dict[Cell, dict[str, float]], path: str, endpoint: str, conns: int, base: str
) -> float | None:
    a, b = table.get((path, endpoint, conns)), table.get((path, base, conns))
    return a["rps"] / b["rps"] if a and b and b["rps"] else None


def cpu_ratio(table: dict[Cell, dict[str, float]], path: str, endpoint: str, conns: int) -> float | None:
    """Hello-world's server CPU per request over the endpoint's: the throughput ratio a machine with no
    other load would show, as both are CPU-bound. On a shared machine the scheduler gives long requests
    less than their share, so the req/s ratio reads lower than this one."""
    a, b = table.get((path, endpoint, conns)), table.get((path, "hello", conns))
    return b["cpu_ms"] / a["cpu_ms"] if a and b and a["cpu_ms"] else None


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def worker_rss(results: Any) -> list[float]:
    return list(results.memory.get("conduit", {}).get("rss_mib", []))


def targets(results: Any) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each target the run can judge; met is None without the data."""
    table = cells(results)
    found: list[tuple[str, str, bool | None]] = []
    paths = sorted({p for p, _, _ in table})
    for path in paths:
        r = ratio(table, path, LIST_ENDPOINT, TARGET_CONNECTIONS, "hello")
        by_cpu = cpu_ratio(table, path, LIST_ENDPOINT, TARGET_CONNECTIONS)
        if r is not None:
            found.append(
                (
                    f"token list >= 25% of hello-world req/s, {path}, c={TARGET_CONNECTIONS} "
                    f"(by CPU per request: {pct(by_cpu)})",
                    pct(r),
                    r >= 0.25,
                )
            )
    list_counts = {k: v["max"] for k, v in results.sql.items() if k.startswith(("articles", "feed"))}
    if list_counts:
        worst = max(list_counts.values())
        found.append(("<= 3 SQL statements per list request (limit 1, 20, 100)", f"{worst:.0f}", worst <= 3))
    for path in paths:
        cell = table.get((path, LIST_ENDPOINT, TARGET_CONNECTIONS))
        if cell:
            found.append(
                (
                    f"list p99 <= 50 ms at c={TARGET_CONNECTIONS}, {path}",
                    f"{cell['p99_ms']:.1f} ms",
                    cell["p99_ms"] <= 50,
                )
            )
    costs = nginx_costs(table, TARGET_CONNECTIONS)
    if costs:
        real = [c for e, c in costs.items() if e not in ("hello", "wsgi")]
        mean = 1 - math.exp(statistics.fmean(math.log(1 - c) for c in real)) if real else None
        if mean is not None:
            found.append(
                (
                    "nginx costs <= 15% against direct (geometric mean of the API endpoints, "
                    f"c={TARGET_CONNECTIONS})",
                    pct(mean),
                    mean <= 0.15,
                )
            )
    rss = worker_rss(results)
    if rss:
        found.append(
            (
                "RSS per worker <= 80 MB (largest worker)",
                f"{max(rss) * 1.048576:.1f} MB",
                max(rss) * 1.048576 <= 80,
            )
        )
    if results.soak:
        first, last = results.soak[1] if len(results.soak) > 1 else results.soak[0], results.soak[-1]
        growth = max(last["rss_mib"]) - max(first["rss_mib"])
        found.append(
            (
                f"RSS does not grow over {last['requests']} requests (largest worker, after the first chunk)",
                f"{growth:+.1f} MiB",
                growth <= 2.0,
            )
        )
    return found


def nginx_costs(table: dict[Cell, dict[str, float]], conns: int) -> dict[str, float]:
    costs = {}
    for (path, endpoint, c), cell in table.items():
        direct = table.get(("direct", endpoint, c))
        if path == "nginx" and c == conns and direct and direct["rps"]:
            costs[endpoint] = 1 - cell["rps"] / direct["rps"]
    return costs


def markdown(results: Any) -> str:
    o, m = results.options, results.machine
    lines = [
        "# Conduit API benchmark" + (" (soak)" if results.soak else ""),
        "",
        f"- When: {results.started}; took {results.seconds / 60:.1f} min. Commit {m['commit']}.",
        f"- Machine: {m['cores']} cores ({m['cpu']}), Linux {m['kernel']}, Python {m['python']}, {m['wrk']}, "
        f"{m['nginx']}. Load average before: {' / '.join(m['load_before'])}.",
        f"- Shared machine: {m['shared']}.",
        f"- Data: PostgreSQL database `{o.database}`, "
        f"`conduit seed --users {o.users} --articles {o.articles}`: "
        + ", ".join(f"{v} {k}" for k, v in results.dataset.items())
        + ".",
        *(soak_setup(results) if results.soak else matrix_setup(results)),
        "",
    ]
    if results.soak:
        return "\n".join(lines + soak_section(results)) + "\n"
    table = cells(results)
    lines += ["## Targets", "", "| target | measured | met |", "|---|--:|:-:|"]
    for name, measured, met in targets(results):
        lines.append(f"| {name} | {measured} | {'-' if met is None else ('yes' if met else '**no**')} |")
    lines += throughput_section(results, table)
    lines += detail_section(results, table)
    lines += nginx_section(table)
    lines += sql_section(results)
    lines += memory_section(results)
    lines += scaling_section(results)
    return "\n".join(lines) + "\n"


def _redis(o: Any) -> str:
    url = getattr(o, "redis_url", "")
    return "Redis (token cache, tags cache, anonymous first-page cache)" if url else "no Redis"


def recycling(o: Any) -> str:
    """When the workers are replaced (--max-requests)."""
    limit = getattr(o, "max_requests", None)
    if o.server == "granian" or limit == 0:
        return "no worker recycling"
    if limit is None:
        return "max-requests 2000 + 50 per worker" if o.server == "uwsgi" else "max_requests 20000 +- 2000"
    return f"workers recycled after {limit} requests"


def server_setup(o: Any) -> str:
    """How --server ran the app servers, in words."""
    if o.server == "granian":
        return f"granian (WSGI interface, {o.workers} workers x 2 blocking threads, {recycling(o)})"
    if o.server == "uwsgi":
        return (
            f"uWSGI with deploy/uwsgi/conduit.ini ({o.workers} processes x 2 threads, the app loaded in the "
            f"master, {recycling(o)}; the direct path over an HTTP 1.1 socket with keep-alive)"
        )
    return f"gunicorn with deploy/gunicorn.conf.py (gthread, {o.workers} workers x 2 threads, {recycling(o)})"


def nginx_setup(o: Any) -> str:
    if o.server == "uwsgi":
        return "deploy/nginx, 1 worker, uwsgi_pass to uWSGI's unix socket: one connection per request"
    return "deploy/nginx, 1 worker, upstream keepalive"


def matrix_setup(results: Any) -> list[str]:
    o = results.options
    return [
        f"- Servers: {server_setup(o)}, CONDUIT_ENV=production, {_redis(o)}, request log on, rate limits "
        "off (loopback is exempt anyway), for Conduit and both baselines, each with a private nginx "
        f"({nginx_setup(o)}).",
        f"- Load: `wrk --latency` with bench/wrk/request.lua, {o.duration} s per run after a {o.warmup} s "
        f"warm-up per endpoint, {o.repeats} round(s) (medians shown); 1 wrk thread, 2 from 64 connections. "
        "Authenticated runs carry a seeded user's JWT; `:slug` runs rotate over the 50 newest articles.",
    ]


def soak_setup(results: Any) -> list[str]:
    o = results.options
    return [
        f"- Server: one Conduit, {server_setup(o)}, CONDUIT_ENV=production, but with max requests 0 "
        "(GUNICORN_MAX_REQUESTS=0, uWSGI's --max-requests 0), so that no worker is recycled; direct, no "
        "nginx.",
        f"- Load: `wrk -c32` in {o.duration} s chunks, taking turns over the token list, one article, its "
        f"comments, the tags and the anonymous list, until {o.soak} requests"
        + (f" or {o.soak_minutes:g} minutes" if o.soak_minutes else "")
        + "; each worker's RSS and USS after every chunk.",
    ]


def throughput_section(results: Any, table: dict[Cell, dict[str, float]]) -> list[str]:
    conns = sorted({c for _, _, c in table})
    out = [
        "",
        "## Throughput: req/s (share of the Flask hello-world's at the same path and connections)",
        "",
        "| endpoint | path | " + " | ".join(f"c={c}" for c in conns) + " |",
        "|---|---|" + "--:|" * len(conns),
    ]
    for endpoint in results.options.endpoints:
        for path in results.options.paths:
            values = []
            for c in conns:
                cell = table.get((path, endpoint, c))
                r = ratio(table, path, endpoint, c, "hello")
                values.append("-" if cell is None else f"{cell['rps']:.0f} ({pct(r)})")
            out.append(f"| {LABELS[endpoint]} | {path} | " + " | ".join(values) + " |")
    return out


def detail_section(results: Any, table: dict[Cell, dict[str, float]]) -> list[str]:
    out = [
        "",
        "## Every run (median of the rounds)",
        "",
        "CPU ms/req: the server side's CPU (app server master and workers, nginx when in the path, the "
        "PostgreSQL backends) per request; req/s per core is 1000 over it; x hello by CPU is hello-world's "
        "CPU per request over the endpoint's, the req/s ratio an otherwise idle machine would show.",
        "",
        "| path | endpoint | conns | req/s | x hello | p50 ms | p90 ms | p99 ms | CPU ms/req "
        "| of which PostgreSQL | req/s per core | x hello by CPU | SQL/req | errors |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for (path, endpoint, c), cell in sorted(
        table.items(), key=lambda kv: (kv[0][0], order(kv[0][1]), kv[0][2])
    ):
        sql = results.sql.get(endpoint)
        errors = int(cell["non_2xx"] + cell["socket_errors"])
        r = ratio(table, path, endpoint, c, "hello")
        per_core = 1000 / cell["cpu_ms"] if cell["cpu_ms"] else 0
        statements = "-" if sql is None else f"{sql['mean']:.1f}"
        by_cpu = cpu_ratio(table, path, endpoint, c)
        out.append(
            f"| {path} | {endpoint} | {c} | {cell['rps']:.0f} | {'-' if r is None else f'{r:.2f}'} "
            f"| {cell['p50_ms']:.1f} | {cell['p90_ms']:.1f} | {cell['p99_ms']:.1f} | {cell['cpu_ms']:.2f} "
            f"| {cell['db_cpu_ms']:.2f} "
            f"| {per_core:.0f} | {'-' if by_cpu is None else f'{by_cpu:.2f}'} | {statements} | {errors} |"
        )
    return out


def order(endpoint: str) -> int:
    return list(LABELS).index(endpoint) if endpoint in LABELS else len(LABELS)


def nginx_section(table: dict[Cell, dict[str, float]]) -> list[str]:
    conns = sorted({c for p, _, c in table if p == "nginx"})
    if not conns or not any(p == "direct" for p, _, _ in table):
        return []
    costs = {c: nginx_costs(table, c) for c in conns}
    endpoints = sorted({e for by_c in costs.values() for e in by_c}, key=order)
    out = [
        "",
        "## What nginx costs: 1 - req/s through nginx / req/s direct",
        "",
        "| endpoint | " + " | ".join(f"c={c}" for c in conns) + " |",
        "|---|" + "--:|" * len(conns),
    ]
    for endpoint in endpoints:
        out.append(f"| {endpoint} | " + " | ".join(pct(costs[c].get(endpoint)) for c in conns) + " |")
    return out


def sql_section(results: Any) -> list[str]:
    if not results.sql:
        return []
    out = [
        "",
        "## SQL statements per request (counted in-process, 5 requests each)",
        "",
        "| request | mean | max |",
        "|---|--:|--:|",
    ]
    for name, counts in results.sql.items():
        out.append(f"| {name} | {counts['mean']:.1f} | {counts['max']:.0f} |")
    return out


def memory_section(results: Any) -> list[str]:
    out = [
        "",
        "## Memory: workers' RSS after the runs",
        "",
        "RSS counts every shared library and every page shared with the master in full in each worker; PSS "
        "splits shared pages between the processes that map them; USS is what only that worker holds (what "
        "one more worker costs).",
        "",
        "| server | workers x threads | RSS per worker MiB | PSS MiB | USS MiB | restarts by max_requests |",
        "|---|--:|---|---|---|--:|",
    ]
    for name, info in results.memory.items():
        rss = ", ".join(f"{v:.1f}" for v in info["rss_mib"])
        pss = ", ".join(f"{m['pss_mib']:.1f}" for m in info.get("private", []))
        uss = ", ".join(f"{m['uss_mib']:.1f}" for m in info.get("private", []))
        out.append(
            f"| {name} | {info['workers']} x {info['threads']} | {rss} | {pss} | {uss} | {info['restarts']} |"
        )
    return out


def scaling_section(results: Any) -> list[str]:
    grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for run in results.runs:
        if "-" in run.server:
            grouped[(run.server, run.endpoint)].append(run)
    if not grouped:
        return []
    endpoints = sorted({e for _, e in grouped}, key=order)
    rounds = max(len(runs) for runs in grouped.values())
    out = [
        "",
        f"## Scaling: 1 and 2 workers (x 2 threads), direct, 8 connections, median of {rounds} round"
        + ("s" if rounds > 1 else ""),
        "",
        "| endpoint | 1 worker req/s | 2 workers req/s | 2 / 1 | CPU ms/req, 1 worker | 2 workers |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for endpoint in endpoints:
        prefix = "hello" if endpoint == "hello" else "conduit"
        one, two = grouped.get((f"{prefix}-1w", endpoint)), grouped.get((f"{prefix}-2w", endpoint))
        if one and two:
            rps1, rps2 = (statistics.median(r.rps for r in runs) for runs in (one, two))
            cpu1, cpu2 = (statistics.median(r.cpu_ms for r in runs) for runs in (one, two))
            out.append(
                f"| {endpoint} | {rps1:.0f} | {rps2:.0f} | {rps2 / rps1:.2f} | {cpu1:.2f} | {cpu2:.2f} |"
            )
    return out


def soak_section(results: Any) -> list[str]:
    out = ["## Targets", "", "| target | measured | met |", "|---|--:|:-:|"]
    for name, measured, met in targets(results):
        out.append(f"| {name} | {measured} | {'-' if met is None else ('yes' if met else '**no**')} |")
    out += [
        "",
        "## RSS per worker while serving (recycling off)",
        "",
        "| requests | seconds | RSS per worker MiB |",
        "|--:|--:|---|",
    ]
    for sample in results.soak:
        out.append(
            f"| {sample['requests']} | {sample['seconds']} | "
            + ", ".join(f"{v:.1f}" for v in sample["rss_mib"])
            + " | "
            + ", ".join(f"{v:.1f}" for v in sample.get("uss_mib", []))
            + " |"
        )
    return out


def plots(results: Any, directory: Path, stem: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    if results.soak:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        workers = max(len(s["rss_mib"]) for s in results.soak)
        for index in range(workers):
            points = [(s["requests"], s["rss_mib"][index]) for s in results.soak if len(s["rss_mib"]) > index]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=f"worker {index + 1}")
        ax.set(xlabel="requests served", ylabel="RSS MiB", title="Conduit workers' RSS (max_requests off)")
        ax.legend()
        ax.grid(alpha=0.3)
        target = directory / f"{stem}-rss.png"
        fig.savefig(target, dpi=110, bbox_inches="tight")
        plt.close(fig)
        return [target]
    table = cells(results)
    paths = [p for p in results.options.paths if any(k[0] == p for k in table)]
    fig, axes = plt.subplots(1, len(paths), figsize=(7 * len(paths), 5), squeeze=False, sharey=True)
    for ax, path in zip(axes[0], paths, strict=True):
        for endpoint in results.options.endpoints:
            points = sorted((c, v["rps"]) for (p, e, c), v in table.items() if p == path and e == endpoint)
            if points:
                style = "--" if endpoint in ("hello", "wsgi") else "-"
                ax.plot([c for c, _ in points], [r for _, r in points], style, marker="o", label=endpoint)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set(xlabel="connections", ylabel="requests/s", title=f"Throughput, {path}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    target = directory / f"{stem}-throughput.png"
    fig.savefig(target, dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append(target)

    conns = sorted({c for _, _, c in table})
    at = TARGET_CONNECTIONS if TARGET_CONNECTIONS in conns else conns[-1]
    fig, axes = plt.subplots(1, len(paths), figsize=(7 * len(paths), 5), squeeze=False, sharey=True)
    for ax, path in zip(axes[0], paths, strict=True):
        names = [e for e in results.options.endpoints if (path, e, at) in table]
        width = 0.2
        for offset, (key, label) in enumerate(
            (("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99"), ("p999_ms", "p99.9"))
        ):
            ax.bar(
                [i + (offset - 1.5) * width for i in range(len(names))],
                [table[(path, e, at)][key] for e in names],
                width,
                label=label,
            )
        ax.axhline(50, color="red", linewidth=0.8, linestyle=":", label="50 ms")
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right")
        ax.set_yscale("log")
        ax.set(ylabel="latency ms", title=f"Latency percentiles, {path}, {at} connections")
        ax.grid(alpha=0.3, axis="y", which="both")
        ax.legend(fontsize=8)
    target = directory / f"{stem}-latency.png"
    fig.savefig(target, dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append(target)
    return written
