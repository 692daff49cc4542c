"""Sum a py-spy profile (``py-spy record --format raw``: one folded stack and its sample count per line)
into the parts of a request, each the share of on-CPU samples whose stack passes through it. A part
is the first marker, in the order given, found in the stack (innermost frames win ties by order).

    py-spy record -p <worker pid> -d 20 -r 250 --format raw -o list.folded   # while wrk loads the worker
    .venv/bin/python bench/profile_summary.py list.folded
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

#: (part, substring of a frame); checked in this order, so specific parts come before the ones they sit in.
PARTS = (
    ("token: user lookup (SQLAlchemy + psycopg)", "authenticate (conduit/security.py"),
    ("list: executing the SELECT (SQLAlchemy + psycopg)", "Session.execute"),
    ("list: building the SELECT", "_view (conduit/articles/queries.py"),
    ("list: rows to dicts", "article_json (conduit/articles/queries.py"),
    ("list: rest of list_articles", "list_articles (conduit/articles/queries.py"),
    ("JSON serialisation", "json_provider.py"),
    ("session close (ROLLBACK, pool check-in)", "_close_session (conduit/storage/database.py"),
    ("request line log", "conduit/observability/logs.py"),
    ("metrics", "conduit/observability/metrics.py"),
    ("rate limits, CORS, security headers", "conduit/edge/rate_limits.py"),
    ("rate limits, CORS, security headers", "conduit/edge/cors.py"),
    ("rate limits, CORS, security headers", "conduit/edge/headers.py"),
    ("flask-openapi3 request validation (pydantic)", "flask_openapi3/"),
    ("Flask and werkzeug routing, request, response", "flask/app.py"),
    ("gunicorn: HTTP parsing, sockets, keepalive", "gunicorn/"),
)


def summarise(lines: list[str]) -> tuple[Counter[str], int]:
    parts: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        part = next((name for name, marker in PARTS if marker in stack), "other (idle loops, GC, imports)")
        parts[part] += samples
    return parts, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folded", type=Path, help="py-spy record --format raw output")
    args = parser.parse_args(argv)
    parts, total = summarise(args.folded.read_text().splitlines())
    if not total:
        sys.stderr.write("no samples\n")
        return 1
    out = [f"| part of the request | share of {total} on-CPU samples |", "|---|--:|"]
    out += [f"| {name} | {count / total * 100:.1f}% |" for name, count in parts.most_common()]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
