"""Query shapes for a page of articles, timed in-process on a seeded database (PostgreSQL or SQLite):

* ``batched``: what eager loading (``selectinload``) sends: the page with its authors, then one ``IN``
  query each for tags, favourite counts, the viewer's favourites and follows, plus a ``COUNT``;
* ``aggregated + count``: one SELECT with correlated subqueries for tags, counts and flags, and a
  separate ``COUNT`` (Conduit before issue #7);
* ``one statement``: Conduit's ``list_articles``: the count as an uncorrelated scalar subquery, the page's
  ids chosen before the subqueries run (a deep ``offset`` no longer evaluates them for skipped rows), and
  the statement built once per process with bound parameters.

Each shape serves the same pages for the same viewer (checked: the same JSON); the shapes take turns,
request by request, so that all of them meet the same load on a shared machine.

    .venv/bin/python bench/query_shapes.py --database-url postgresql+psycopg://postgres@127.0.0.1/conduit_bench
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from conduit.articles.models import Article, Favorite
from conduit.articles.queries import ArticleFilter, _view, article_json, list_articles
from conduit.profiles.models import Follow
from conduit.storage.database import DATABASE
from conduit.tags.models import ArticleTag, Tag
from conduit.users.models import User
from conduit.web.timestamps import iso_utc

Page = tuple[list[dict[str, Any]], int]
Shape = Callable[[Session, int, int, int], Page]
NEWEST_FIRST = (Article.created_at.desc(), Article.id.desc())


def batched(db: Session, viewer: int, limit: int, offset: int) -> Page:
    total = db.scalar(select(func.count()).select_from(Article)) or 0
    rows = db.execute(
        select(Article, User)
        .join(User, User.id == Article.author_id)
        .order_by(*NEWEST_FIRST)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [article.id for article, _ in rows]
    tags: dict[int, list[str]] = defaultdict(list)
    for article_id, name in db.execute(
        select(ArticleTag.article_id, Tag.name)
        .join(Tag, Tag.id == ArticleTag.tag_id)
        .where(ArticleTag.article_id.in_(ids))
    ):
        tags[article_id].append(name)
    favourites = select(Favorite.article_id, func.count()).where(Favorite.article_id.in_(ids))
    counts = dict(db.execute(favourites.group_by(Favorite.article_id)).all())
    liked = set(
        db.scalars(
            select(Favorite.article_id).where(Favorite.user_id == viewer, Favorite.article_id.in_(ids))
        )
    )
    authors = {user.id for _, user in rows}
    followed = set(
        db.scalars(
            select(Follow.followee_id).where(Follow.follower_id == viewer, Follow.followee_id.in_(authors))
        )
    )
    page = [
        {
            "slug": a.slug,
            "title": a.title,
            "description": a.description,
            "tagList": sorted(tags[a.id]),
            "createdAt": iso_utc(a.created_at),
            "updatedAt": iso_utc(a.updated_at),
            "favorited": a.id in liked,
            "favoritesCount": counts.get(a.id, 0),
            "author": {"username": u.username, "bio": u.bio, "image": u.image, "following": u.id in followed},
        }
        for a, u in rows
    ]
    return page, total


def aggregated_and_count(db: Session, viewer: int, limit: int, offset: int) -> Page:
    total = db.scalar(select(func.count()).select_from(Article)) or 0
    view = _view(db.get_bind().dialect.name, True, with_body=False)
    query = view.order_by(*NEWEST_FIRST).limit(limit).offset(offset)
    return [article_json(row, with_body=False) for row in db.execute(query, {"viewer_id": viewer})], total


def one_statement(db: Session, viewer: int, limit: int, offset: int) -> Page:
    return list_articles(db, viewer, ArticleFilter(), limit=limit, offset=offset)


SHAPES: dict[str, Shape] = {
    "batched (eager loading)": batched,
    "aggregated + count": aggregated_and_count,
    "one statement": one_statement,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeats", type=int, default=200, help="pages per shape and case (default 200)")
    args = parser.parse_args(argv)

    from conduit.app import create_app

    app = create_app(
        database_url=args.database_url, secret_key="shapes-" * 10, log_level="WARNING", log_requests=False
    )
    engine = DATABASE.get(app).engine
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    cases = {"limit=20": (20, 0), "limit=100": (100, 0), "limit=20 offset=5000": (20, 5000)}
    out = ["| case | shape | statements | median ms | p90 ms |", "|---|---|--:|--:|--:|"]
    with app.app_context():
        from conduit.storage.database import session

        db = session()
        viewer = db.scalar(select(User.id).where(User.username == "demo1")) or 1
        for case, (limit, offset) in cases.items():
            expected = one_statement(db, viewer, limit, offset)
            timings: dict[str, list[float]] = defaultdict(list)
            statements_of: dict[str, int] = {}
            for name, shape in SHAPES.items():
                statements = 0
                if shape(db, viewer, limit, offset) != expected:
                    raise SystemExit(f"{name} returned another page than list_articles for {case}")
                statements_of[name] = statements
            for _ in range(args.repeats):  # interleaved, so that every shape sees the same machine
                for name, shape in SHAPES.items():
                    started = time.perf_counter()
                    shape(db, viewer, limit, offset)
                    timings[name].append((time.perf_counter() - started) * 1000)
                    db.rollback()
            for name in SHAPES:
                median = statistics.median(timings[name])
                p90 = statistics.quantiles(timings[name], n=10)[-1]
                out.append(f"| {case} | {name} | {statements_of[name]} | {median:.2f} | {p90:.2f} |")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
