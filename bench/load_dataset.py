"""Load a large synthetic dataset into PostgreSQL at bulk speed (issue 16): by default 1,000,000
articles, 100,000 users, 5,000,000 favourites, 10,000 tags (and 10 follows per user), with COPY
(psycopg 3's ``cursor.copy``), progress on stderr.

    .venv/bin/python bench/load_dataset.py --database conduit_bench_1m          # make bench-data
    .venv/bin/python bench/load_dataset.py --database conduit_bench_1m --drop   # free the disk again

The database is created (it must not exist yet) and migrated first; its rows are written with their ids,
and the denormalised columns (``favorites_count``, ``tag_names``) are computed while generating, so no
UPDATE pass is needed; the counts of migration 0006 (``row_counts``, ``tags.articles_count``) are kept by
its statement triggers, one UPDATE per COPY. Demo account N is ``demo<N>@demo.example.com`` with
password ``password123`` (one argon2 hash shared by every account), what bench/explain.py and
bench/round_trips.py log in with.
Favourites follow a skewed popularity (a few articles have many) and each user's are distinct; the
generator is seeded, so the same arguments give the same data.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import time
from array import array
from datetime import UTC, datetime, timedelta

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "river",
    "stone",
    "cloud",
    "quiet",
    "bright",
    "system",
    "query",
    "index",
    "cache",
    "worker",
    "signal",
    "garden",
    "market",
    "engine",
    "silver",
    "orbit",
    "harbor",
    "lantern",
    "meadow",
    "pixel",
    "vector",
    "thread",
    "socket",
    "kernel",
]


class Progress:
    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done = what, total, 0
        self.start = self.last = time.monotonic()

    def step(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= 2 or self.done >= self.total:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            share = 100 * self.done / self.total
            sys.stderr.write(f"\r{self.what}: {self.done:,}/{self.total:,} ({share:.0f} %, {rate:,.0f}/s)")
            if self.done >= self.total:
                sys.stderr.write(f" in {now - self.start:.1f} s\n")
            sys.stderr.flush()


def _favourites_of(seed: int, user: int, count: int, articles: int) -> list[int]:
    """User *user*'s favourite article ids: distinct, skewed towards a popular tenth of the articles."""
    rng = random.Random(seed * 1_000_003 + user)  # noqa: S311 - benchmark data
    chosen: set[int] = set()
    while len(chosen) < count:
        if rng.random() < 0.5:
            chosen.add(1 + int(articles * 0.1 * rng.random() ** 2))
        else:
            chosen.add(rng.randint(1, articles))
    return sorted(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", required=True, help="the database to create (e.g. conduit_bench_1m)")
    parser.add_argument(
        "--server", default=DEFAULT_SERVER, help=f"SQLAlchemy URL of the server ({DEFAULT_SERVER})"
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--favorites", type=int, default=5_000_000)
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--follows-per-user", type=int, default=10)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--drop", action="store_true", help="drop the database and exit")
    args = parser.parse_args(argv)
    if not args.database.replace("_", "").isalnum():
        parser.error("--database: letters, digits and _ only")

    import psycopg

    from conduit.security import Passwords
    from conduit.settings import load_settings
    from conduit.storage import migrations
    from conduit.storage.database import make_engine

    server = args.server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(server + "postgres", autocommit=True) as admin:
        if args.drop:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            sys.stderr.write(f"dropped {args.database}\n")
            return 0
        admin.execute(f'CREATE DATABASE "{args.database}"')
    started = time.monotonic()
    url = args.server.rstrip("/") + "/" + args.database
    settings = load_settings(conduit_env="production", database_url=url, secret_key=secrets.token_urlsafe(48))
    engine = make_engine(settings)
    migrations.upgrade(engine)
    engine.dispose()
    password_hash = Passwords(settings).hash("password123")

    rng = random.Random(args.seed)  # noqa: S311 - benchmark data
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with psycopg.connect(server + args.database) as conn:
        conn.execute("SET synchronous_commit = off")
        with conn.cursor() as cur:
            progress = Progress("users", args.users)
            with cur.copy(
                "COPY users (id, username, email, password_hash, bio, token_version, created_at, updated_at)"
                " FROM STDIN"
            ) as copy:
                for n in range(1, args.users + 1):
                    copy.write_row(
                        (n, f"demo{n}", f"demo{n}@demo.example.com", password_hash, None, 0, now, now)
                    )
                    if n % 10_000 == 0 or n == args.users:
                        progress.step(10_000 if n % 10_000 == 0 else n % 10_000)

            progress = Progress("tags", args.tags)
            with cur.copy("COPY tags (id, name) FROM STDIN") as copy:
                for n in range(1, args.tags + 1):
                    copy.write_row((n, f"{WORDS[n % len(WORDS)]}{n}"))
                progress.step(args.tags)

            # Favourites are drawn per user first, to count them per article (written with the article).
            per_user = [0] * (args.users + 1)
            for _ in range(args.favorites):
                per_user[rng.randint(1, args.users)] += 1
            counts = array("i", bytes(4 * (args.articles + 1)))
            progress = Progress("favourites drawn", args.users)
            for user in range(1, args.users + 1):
                for article in _favourites_of(
                    args.seed, user, min(per_user[user], args.articles), args.articles
                ):
                    counts[article] += 1
                if user % 10_000 == 0:
                    progress.step(10_000)
            progress.step(args.users % 10_000)

            progress = Progress("articles", args.articles)
            start_time = now - timedelta(days=3 * 365)
            span = 3 * 365 * 24 * 3600
            article_tags: list[tuple[int, int, datetime]] = []
            with cur.copy(
                "COPY articles (id, slug, title, description, body, author_id, created_at, updated_at,"
                " favorites_count, tag_names) FROM STDIN"
            ) as copy:
                for n in range(1, args.articles + 1):
                    words = rng.sample(WORDS, 4)
                    created = start_time + timedelta(seconds=span * n / args.articles, microseconds=n % 997)
                    tag_ids = {1 + int(args.tags * rng.random() ** 3) for _ in range(rng.randint(0, 4))}
                    names = sorted(f"{WORDS[t % len(WORDS)]}{t}" for t in tag_ids)
                    article_tags.extend((n, t, created) for t in tag_ids)
                    copy.write_row(
                        (
                            n,
                            f"{'-'.join(words)}-{n}",
                            " ".join(words).capitalize(),
                            f"About {words[0]} and {words[1]}.",
                            f"A short body on {' '.join(words)}, article {n}.",
                            rng.randint(1, args.users),
                            created,
                            created,
                            counts[n],
                            json.dumps(names, separators=(",", ":")),
                        )
                    )
                    if n % 50_000 == 0:
                        progress.step(50_000)
            progress.step(args.articles % 50_000)

            progress = Progress("article tags", len(article_tags))
            with cur.copy("COPY article_tags (article_id, tag_id, created_at) FROM STDIN") as copy:
                for row in article_tags:
                    copy.write_row(row)
            progress.step(len(article_tags))
            del article_tags

            progress = Progress("favourites", args.favorites)
            with cur.copy("COPY favorites (user_id, article_id, created_at) FROM STDIN") as copy:
                for user in range(1, args.users + 1):
                    for article in _favourites_of(
                        args.seed, user, min(per_user[user], args.articles), args.articles
                    ):
                        copy.write_row((user, article, now))
                    if per_user[user]:
                        progress.step(per_user[user])

            total_follows = args.users * args.follows_per_user
            progress = Progress("follows", total_follows)
            with cur.copy("COPY follows (follower_id, followee_id, created_at) FROM STDIN") as copy:
                for user in range(1, args.users + 1):
                    followees = set()
                    while len(followees) < min(args.follows_per_user, args.users - 1):
                        other = rng.randint(1, args.users)
                        if other != user:
                            followees.add(other)
                    for other in followees:
                        copy.write_row((user, other, now))
                    progress.step(len(followees))

            for table in ("users", "tags", "articles"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
                )
        conn.commit()
        sys.stderr.write("ANALYZE\n")
        conn.set_autocommit(True)
        conn.execute("ANALYZE")
    sys.stderr.write(f"loaded {args.database} in {time.monotonic() - started:.0f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
