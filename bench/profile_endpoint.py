"""Where the time of one endpoint goes: pyinstrument over N requests served in-process (Flask's test client,
no HTTP server) from a seeded database, after a warm-up. Prints the call tree and the CPU time per request.

    .venv/bin/python bench/profile_endpoint.py --token --path '/api/articles?limit=20' \\
        --database-url postgresql+psycopg://postgres@127.0.0.1/conduit_bench
"""

from __future__ import annotations

import argparse
import sys
import time

READER = "demo1@demo.example.com"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a seeded database (SQLAlchemy URL)")
    parser.add_argument("--path", default="/api/articles?limit=20")
    parser.add_argument("--token", action="store_true", help=f"send the JWT of {READER}")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.0005, help="sampling interval, seconds")
    args = parser.parse_args(argv)

    from pyinstrument import Profiler

    from conduit.app import create_app

    app = create_app(
        database_url=args.database_url, secret_key="profile-" * 8, log_level="WARNING", log_requests=False
    )
    client = app.test_client()
    headers = {}
    if args.token:
        login = {"user": {"email": READER, "password": "password123"}}
        headers["Authorization"] = (
            "Token " + client.post("/api/users/login", json=login).get_json()["user"]["token"]
        )
    for _ in range(50):
        if client.get(args.path, headers=headers).status_code != 200:
            sys.stderr.write(f"GET {args.path} does not answer 200\n")
            return 1
    profiler = Profiler(interval=args.interval)
    cpu = time.process_time()
    profiler.start()
    for _ in range(args.requests):
        client.get(args.path, headers=headers)
    profiler.stop()
    cpu_ms = (time.process_time() - cpu) * 1000 / args.requests
    sys.stdout.write(profiler.output_text(unicode=False, color=False, show_all=False))
    sys.stdout.write(
        f"\n{args.requests} requests, {cpu_ms:.2f} ms of this process's CPU each (with the profiler)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
