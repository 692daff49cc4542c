"""EXPLAIN ANALYZE of every statement the read endpoints send, on a seeded PostgreSQL database.

The statements are the real ones: the app serves each request through Flask's test client while a
SQLAlchemy listener records statement and parameters, which are then run again under
``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)``. The report lists each statement's planning and execution
time and every sequential scan, the sign of a missing index.

    .venv/bin/python bench/api_bench.py --keep-database ...   # or conduit seed into a database of your own
    .venv/bin/python bench/explain.py --database-url postgresql+psycopg://postgres@127.0.0.1/conduit_bench
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

READER = "demo1@demo.example.com"


def requests(slug: str, author: str, tag: str) -> dict[str, tuple[str, bool]]:
    return {
        "list, anonymous": ("/api/articles?limit=20", False),
        "list, token": ("/api/articles?limit=20", True),
        "list, deep page": ("/api/articles?limit=20&offset=5000", True),
        "feed": ("/api/articles/feed?limit=20", True),
        "list by tag": (f"/api/articles?tag={tag}&limit=20", True),
        "list by author": (f"/api/articles?author={author}&limit=20", True),
        "list favourited by": (f"/api/articles?favorited={author}&limit=20", True),
        "article": (f"/api/articles/{slug}", True),
        "comments": (f"/api/articles/{slug}/comments", True),
        "profile": (f"/api/profiles/{author}", True),
        "tags": ("/api/tags", False),
    }


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a seeded PostgreSQL database (SQLAlchemy URL)")
    args = parser.parse_args(argv)

    from sqlalchemy import event

    from conduit.app import create_app
    from conduit.storage.database import DATABASE

    app = create_app(
        database_url=args.database_url, secret_key="explain-" * 8, log_level="WARNING", log_requests=False
    )
    database = DATABASE.get(app)
    engine = database.engine
    assert engine is not None
    engines = database.engines  # GET requests run on the read engine
    client = app.test_client()
    login = {"user": {"email": READER, "password": "password123"}}
    token = client.post("/api/users/login", json=login).get_json()["user"]["token"]
    first = client.get("/api/articles?limit=1").get_json()["articles"][0]
    tag = next(iter(client.get("/api/tags").get_json()["tags"]))
    captured: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        captured.append((statement, parameters))

    lines = [
        "| request | statement | planning ms | execution ms | sequential scans (rows) |",
        "|---|---|--:|--:|---|",
    ]
    for name, (path, auth) in requests(first["slug"], first["author"]["username"], tag).items():
        captured.clear()
        for each in engines:
            event.listen(each, "before_cursor_execute", record)
        headers = {"Authorization": f"Token {token}"} if auth else {}
        status = client.get(path, headers=headers).status_code
        for each in engines:
            event.remove(each, "before_cursor_execute", record)
        if status != 200:
            sys.stderr.write(f"{path} answered {status}\n")
            return 1
        with engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            for number, (statement, parameters) in enumerate(captured, 1):
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters)
                plan = cursor.fetchone()[0][0]
                scans = [
                    f"{n['Relation Name']} ({n['Actual Rows']})"
                    for n in walk(plan["Plan"])
                    if n["Node Type"] == "Seq Scan"
                ]
                first_words = " ".join(statement.split()[:4])
                lines.append(
                    f"| {name} | {number}: `{first_words} ...` | {plan['Planning Time']:.2f} "
                    f"| {plan['Execution Time']:.2f} | {', '.join(scans) or '-'} |"
                )
            conn.rollback()
    database.dispose()
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
