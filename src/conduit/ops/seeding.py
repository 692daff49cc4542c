"""Realistic demo data for ``conduit seed`` (and the benchmarks): bulk inserts, a progress bar."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import click
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from conduit.articles.models import Article, Favorite
from conduit.articles.slugs import base_slug
from conduit.comments.models import Comment
from conduit.profiles.models import Follow
from conduit.security import passwords
from conduit.storage.database import Database, insert_ignoring_duplicates, utcnow
from conduit.tags.models import ArticleTag, Tag
from conduit.tags.queries import tag_names_json
from conduit.users.models import Role, User
from conduit.users.service import validated

BATCH = 500
T = TypeVar("T")

WORDS = (
    "python",
    "flask",
    "gunicorn",
    "nginx",
    "postgres",
    "redis",
    "docker",
    "deploy",
    "worker",
    "request",
    "latency",
    "cache",
    "index",
    "query",
    "token",
    "session",
    "queue",
    "metric",
    "log",
    "trace",
    "header",
    "proxy",
    "socket",
    "thread",
    "process",
    "memory",
    "server",
    "client",
    "schema",
    "migration",
    "release",
    "rollback",
    "replica",
    "backup",
    "cluster",
    "pipeline",
    "test",
    "benchmark",
    "profile",
    "async",
)
TAGS = (
    "python",
    "flask",
    "webdev",
    "devops",
    "databases",
    "postgres",
    "redis",
    "docker",
    "kubernetes",
    "testing",
    "performance",
    "security",
    "observability",
    "logging",
    "api",
    "design",
    "architecture",
    "career",
    "opensource",
    "tutorial",
    "linux",
    "networking",
    "nginx",
    "gunicorn",
    "sqlalchemy",
    "alembic",
    "javascript",
    "css",
    "frontend",
    "backend",
    "cloud",
)
BIOS = (
    None,
    "Backend engineer. Coffee, queues and quiet pagers.",
    "I write about shipping Python to production.",
    "Ops by day, open source by night.",
    "Curious about databases and the people who tune them.",
)

#: Demo account N is demo<N>@DEMO_EMAIL_DOMAIN (login is by e-mail): a domain reserved for examples
#: (RFC 2606) that registration accepts, unlike .test.
DEMO_EMAIL_DOMAIN = "demo.example.com"


def _chunks(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize()


def _progress(label: str, length: int) -> Any:
    return click.progressbar(length=length, label=label.ljust(12), file=sys.stderr, show_pos=True, width=30)


def seed_database(
    database: Database, *, user_count: int, article_count: int, random_seed: int, password: str
) -> dict[str, int]:
    rng = random.Random(random_seed)  # noqa: S311 - demo data, not security
    with database.standalone_session() as db:
        summary = _seed(db, rng, user_count, article_count, password)
        db.commit()
    _refresh_statistics(database)
    return summary


def _refresh_statistics(database: Database) -> None:
    """PostgreSQL plans from statistics that a bulk load leaves stale until autovacuum comes by (on 10,000
    fresh articles the list query ran 10 ms instead of 0.9 ms); VACUUM also sets the visibility map that
    lets ``count(*)`` use an index-only scan."""
    engine = database.engine
    if engine is None or engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")


def _seed(
    db: Session, rng: random.Random, user_count: int, article_count: int, password: str
) -> dict[str, int]:
    role_id = db.scalar(select(Role.id).where(Role.default.is_(True)))
    # The rules of registration (users.service): a password the API would refuse makes no account.
    password_hash = passwords().hash(validated("demo1", f"demo1@{DEMO_EMAIL_DOMAIN}", password).password)
    # Usernames are unique whatever their case, as the API's check and the index say.
    taken = set(db.scalars(select(func.lower(User.username)).where(func.lower(User.username).like("demo%"))))
    names: list[str] = []
    number = 1
    while len(names) < user_count:
        if f"demo{number}" not in taken:
            names.append(f"demo{number}")
        number += 1
    # A later run adds demo<N> after the existing ones: a stream of its own, or it would repeat the
    # first run's article slugs (the same seed, the same titles and suffixes).
    rng.seed(f"{rng.getrandbits(64)}:{names[0]}")

    now = utcnow()
    user_ids: list[int] = []
    with _progress("users", user_count) as bar:
        for chunk in _chunks(names):
            rows = [
                {
                    "username": name,
                    "email": f"{name}@{DEMO_EMAIL_DOMAIN}",
                    "password_hash": password_hash,
                    "bio": rng.choice(BIOS),
                    "image": None,
                    "role_id": role_id,
                    "created_at": now,
                    "updated_at": now,
                }
                for name in chunk
            ]
            user_ids += db.scalars(insert(User).returning(User.id), rows).all()
            bar.update(len(chunk))

    follows = {
        (follower, followee)
        for follower in user_ids
        for followee in rng.sample(user_ids, k=min(len(user_ids), rng.randint(0, 8)))
        if follower != followee
    }
    with _progress("follows", len(follows)) as bar:
        for follow_chunk in _chunks(sorted(follows)):
            insert_ignoring_duplicates(
                db, Follow, [{"follower_id": a, "followee_id": b} for a, b in follow_chunk]
            )
            bar.update(len(follow_chunk))

    insert_ignoring_duplicates(db, Tag, [{"name": name} for name in TAGS])
    tag_ids = {row.name: row.id for row in db.execute(select(Tag.name, Tag.id).where(Tag.name.in_(TAGS)))}

    counts = {"users": len(user_ids), "follows": len(follows), "articles": 0, "favorites": 0, "comments": 0}
    with _progress("articles", article_count) as bar:
        for start in range(0, article_count, BATCH):
            size = min(BATCH, article_count - start)
            counts_batch = _article_batch(db, rng, user_ids, tag_ids, size, now)
            for key, value in counts_batch.items():
                counts[key] += value
            bar.update(size)
    return counts


def _article_batch(
    db: Session, rng: random.Random, user_ids: list[int], tag_ids: dict[str, int], size: int, now: Any
) -> dict[str, int]:
    rows = []
    picks: list[tuple[list[str], list[int]]] = []  # each article's tags and fans
    for _ in range(size):
        title = _sentence(rng, 3, 8)
        created = now - timedelta(
            seconds=rng.randint(0, 365 * 24 * 3600), microseconds=rng.randint(0, 999_999)
        )
        rows.append(
            {
                "slug": f"{base_slug(title)}-{rng.getrandbits(40):010x}",
                "title": title,
                "description": _sentence(rng, 6, 14) + ".",
                "body": "\n\n".join(_sentence(rng, 20, 60) + "." for _ in range(rng.randint(2, 6))),
                "author_id": rng.choice(user_ids),
                "created_at": created,
                "updated_at": created,
            }
        )
        names = rng.sample(TAGS, k=rng.randint(0, 4))
        fans = rng.sample(user_ids, k=min(len(user_ids), rng.randint(0, 10)))
        picks.append((names, fans))
        rows[-1].update(tag_names=tag_names_json(names), favorites_count=len(fans))
    article_ids = db.scalars(insert(Article).returning(Article.id, sort_by_parameter_order=True), rows).all()
    article_tags = [
        {"article_id": article_id, "tag_id": tag_ids[name], "created_at": row["created_at"]}
        for article_id, row, (names, _fans) in zip(article_ids, rows, picks, strict=True)
        for name in names
    ]
    favorites = {
        (user_id, article_id)
        for article_id, (_names, fans) in zip(article_ids, picks, strict=True)
        for user_id in fans
    }
    comments = [
        {
            "body": _sentence(rng, 5, 25) + ".",
            "article_id": article_id,
            "author_id": rng.choice(user_ids),
            "created_at": now,
            "updated_at": now,
        }
        for article_id in article_ids
        for _ in range(rng.randint(0, 3))
    ]
    if article_tags:
        db.execute(insert(ArticleTag), article_tags)
    insert_ignoring_duplicates(db, Favorite, [{"user_id": u, "article_id": a} for u, a in favorites])
    if comments:
        db.execute(insert(Comment), comments)
    return {"articles": len(article_ids), "favorites": len(favorites), "comments": len(comments)}
