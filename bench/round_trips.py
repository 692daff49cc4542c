"""Database round trips per request, counted on the wire: libpq's protocol trace of every connection
(psycopg 3) records each message the app sends; a round trip is a simple ``Query`` (the pre-ping's
``SELECT 1``, ``BEGIN``, the closing ``ROLLBACK``) or an extended-protocol ``Execute`` (each statement).
psycopg's ``Parse, Sync`` that prepares a statement on its fifth run, once per connection, is shown but
not counted.

    .venv/bin/python bench/round_trips.py --database-url postgresql+psycopg://postgres@127.0.0.1/DB \
        [--redis-url redis://127.0.0.1:6379/0]

With ``--redis-url`` the token is checked from the worker's cache (as in production), without it by a
read of the account per request.

The database needs a demo account (``conduit seed``); each request is sent a few times and the last
one is reported, as in a warm worker.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

READER = "demo1@demo.example.com"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", help="Redis, for the token cache (its keys under bench-round-trips:)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from psycopg import pq
    from sqlalchemy import event

    from conduit.app import create_app
    from conduit.storage.database import DATABASE

    app = create_app(
        database_url=args.database_url,
        secret_key="round-trips-" * 4,
        log_level="WARNING",
        log_requests=False,
        redis_url=args.redis_url,
        redis_key_prefix="bench-round-trips:",
    )
    database = DATABASE.get(app)
    trace = Path(tempfile.mkdtemp()) / "libpq.trace"
    sink = trace.open("w")

    def traced(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.pgconn.trace(sink.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    engines = getattr(database, "engines", [database.engine])
    for engine in engines:
        engine.dispose()
        event.listen(engine, "connect", traced)

    client = app.test_client()
    login = client.post("/api/users/login", json={"user": {"email": READER, "password": "password123"}})
    token = {"Authorization": "Token " + login.get_json()["user"]["token"]}
    slug = client.get("/api/articles?limit=1").get_json()["articles"][0]["slug"]
    client.get("/api/articles?limit=1", headers=token)  # starts the token cache's listener, if any
    time.sleep(0.5)
    requests = {
        "list, anonymous": ("/api/articles?limit=20", {}),
        "list, token": ("/api/articles?limit=20", token),
        "list by tag, token": ("/api/articles?tag=python&limit=20", token),
        "feed": ("/api/articles/feed?limit=20", token),
        "article, token": (f"/api/articles/{slug}", token),
        "comments, anonymous": (f"/api/articles/{slug}/comments", {}),
        "comments, token": (f"/api/articles/{slug}/comments", token),
        "profile, anonymous": ("/api/profiles/demo2", {}),
        "profile, token": ("/api/profiles/demo2", token),
        "current user": ("/api/user", token),
    }
    sys.stdout.write(f"{'request':24} round trips  (messages)\n")
    for name, (url, headers) in requests.items():
        for _ in range(args.repeat):
            sink.flush()
            start = os.path.getsize(trace)
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)
            sink.flush()
        with trace.open() as text:
            text.seek(start)
            sent = [line.rstrip("\n").split("\t")[2] for line in text if line.startswith("F\t")]
        trips = sum(1 for kind in sent if kind in ("Query", "Execute"))  # not psycopg's one-off prepare
        sys.stdout.write(f"{name:24} {trips:11}  ({' '.join(sent)})\n")
    sink.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
