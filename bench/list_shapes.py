"""CPU per request of each article-list shape, on several databases side by side (issue 16: at most 2x
from 10,000 to 1,000,000 articles). For each shape the app serves the same request --repeats times
through Flask's test client; the CPU is the app process's (``time.process_time``) plus the PostgreSQL
backends' of the app's connections (``/proc/<pid>/stat``), so other load on the machine counts far less
than in a wall-clock figure. The databases take turns shape by shape.

    .venv/bin/python bench/load_dataset.py --database conduit_bench_10k --users 1000 --articles 10000 \\
        --favorites 50000 --tags 100
    .venv/bin/python bench/load_dataset.py --database conduit_bench_1m
    .venv/bin/python bench/list_shapes.py --database conduit_bench_10k --database conduit_bench_1m

Needs the PostgreSQL server on this machine (the backends' /proc entries) and the demo accounts of
bench/load_dataset.py. With --redis-url the token is checked from the worker's cache, as in production.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from typing import Any

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


class Target:
    def __init__(self, database: str, redis_url: str | None, list_cache_seconds: int) -> None:
        from sqlalchemy import create_engine, text

        from conduit.app import create_app
        from conduit.storage.database import DATABASE

        self.name = database
        url = SERVER + database
        self.app = create_app(
            database_url=url,
            secret_key=secrets.token_urlsafe(48),
            log_level="WARNING",
            log_requests=False,
            metrics_enabled=False,
            redis_url=redis_url,
            redis_key_prefix=f"bench-list-shapes-{database}:",
            list_cache_seconds=list_cache_seconds,
        )
        self.database = DATABASE.get(self.app)
        self.client = self.app.test_client()
        self.monitor = create_engine(url)
        self.text = text
        login = {"user": {"email": "demo1@demo.example.com", "password": "password123"}}
        answer = self.client.post("/api/users/login", json=login)
        assert answer.status_code == 200, answer.get_json()
        self.token = {"Authorization": "Token " + answer.get_json()["user"]["token"]}
        newest = self.client.get("/api/articles?limit=50").get_json()
        tagged = next(a for a in newest["articles"] if a["tagList"])
        self.total = newest["articlesCount"]
        self.tag = tagged["tagList"][0]
        self.author = newest["articles"][0]["author"]["username"]
        with self.monitor.connect() as conn:
            self.favouriter = conn.execute(
                text("SELECT u.username FROM favorites f JOIN users u ON u.id = f.user_id LIMIT 1")
            ).scalar_one()

    def shapes(self) -> dict[str, tuple[str, dict[str, str]]]:
        deep = min(10_000, self.total - 20)
        return {
            "global, anonymous": ("/api/articles?limit=20", {}),
            "global, token": ("/api/articles?limit=20", self.token),
            f"global, offset {deep}": (f"/api/articles?limit=20&offset={deep}", self.token),
            "by tag": (f"/api/articles?tag={self.tag}&limit=20", self.token),
            "by author": (f"/api/articles?author={self.author}&limit=20", self.token),
            "by favouriter": (f"/api/articles?favorited={self.favouriter}&limit=20", self.token),
            "feed": ("/api/articles/feed?limit=20", self.token),
        }

    def backends(self) -> list[int]:
        with self.monitor.connect() as conn:
            rows = conn.execute(
                self.text("SELECT pid FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"),
                {"db": self.name},
            )
            return [int(row[0]) for row in rows]

    def measure(self, url: str, headers: dict[str, str], repeats: int) -> tuple[float, float, int]:
        for _ in range(5):  # warm: statements prepared, pool full, token cached
            response = self.client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)
        count = response.get_json()["articlesCount"]
        pids = self.backends()
        app0, db0 = time.process_time(), backend_cpu(pids)
        for _ in range(repeats):
            self.client.get(url, headers=headers)
        app1, db1 = time.process_time(), backend_cpu(pids)
        return 1000 * (app1 - app0) / repeats, 1000 * (db1 - db0) / repeats, count


def _offset(name: str) -> str:
    return ", " + name.split(", ")[-1] if "offset" in name else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database", action="append", required=True, help="repeat: the first is the baseline"
    )
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--redis-url")
    parser.add_argument(
        "--list-cache-seconds",
        type=int,
        default=0,
        help="LIST_CACHE_SECONDS with --redis-url: the anonymous first page from Redis (default 0: the"
        " database, whose cost per shape is what this compares)",
    )
    args = parser.parse_args(argv)
    targets = [Target(name, args.redis_url, args.list_cache_seconds) for name in args.database]
    results: dict[str, list[Any]] = {}
    for shape_index in range(len(targets[0].shapes())):
        for target in targets:
            name, (url, headers) = list(target.shapes().items())[shape_index]
            key = name.split(", offset")[0] + (", deep offset" if "offset" in name else "")
            results.setdefault(key, []).append((name, *target.measure(url, headers, args.repeats)))
    head = " | ".join(f"{t.name}: app + db ms (count)" for t in targets)
    lines = [f"| shape | {head} | ratio to {targets[0].name} |", "|---|" + "---|" * len(targets) + "--:|"]
    for key, cells in results.items():
        base = cells[0][1] + cells[0][2]
        text = " | ".join(
            f"{app:.2f} + {db:.2f} = {app + db:.2f} ({count:,}{_offset(name)})"
            for name, app, db, count in cells
        )
        ratio = " / ".join(f"{(c[1] + c[2]) / base:.2f}" for c in cells[1:])
        lines.append(f"| {key} | {text} | {ratio} |")
    sys.stdout.write("\n".join(lines) + "\n")
    for target in targets:
        target.database.dispose()
        target.monitor.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
