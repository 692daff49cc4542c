from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from conduit.storage.database import insert_ignoring_duplicates
from conduit.tags.models import ArticleTag, Tag


def parse_tag_list(value: Any) -> list[str]:
    """The aggregate's value (a list on PostgreSQL, JSON text on SQLite, NULL without tags), sorted."""
    if value is None:
        return []
    names = json.loads(value) if isinstance(value, str) else value
    return sorted(name for name in names if name is not None)


def tag_names_json(names: Sequence[str]) -> str:
    """What ``articles.tag_names`` holds: the distinct names, sorted, as a JSON array."""
    return json.dumps(sorted(set(names)), ensure_ascii=False, separators=(",", ":"))


def set_tags(db: Session, article_id: int, created_at: datetime, names: Sequence[str]) -> None:
    """Make *names* the article's tags, creating the tags that do not exist yet (the article's own
    ``tag_names`` is the caller's: ``conduit.articles.queries.set_article_tags``). *created_at* is the
    article's, copied onto each row for the index of a tag's articles by date."""
    db.execute(delete(ArticleTag).where(ArticleTag.article_id == article_id))
    if not names:
        return
    insert_ignoring_duplicates(db, Tag, [{"name": name} for name in names])
    tag_ids = db.scalars(select(Tag.id).where(Tag.name.in_(names))).all()
    rows = [{"article_id": article_id, "tag_id": tag_id, "created_at": created_at} for tag_id in tag_ids]
    db.execute(insert(ArticleTag), rows)


def used_tags(db: Session, most: int) -> list[str]:
    """The *most* tags that the most articles carry (the newest tag first among equals, so that a tag
    just used shows while fewer than *most* tags are used twice), in alphabetical order. Read from the
    maintained ``tags.articles_count`` through its index: *most* index entries, whatever the number of
    articles."""
    top = (
        select(Tag.name)
        .where(Tag.articles_count > 0)
        .order_by(Tag.articles_count.desc(), Tag.id.desc())
        .limit(most)
        .subquery()
    )
    return list(db.scalars(select(top.c.name).order_by(top.c.name)))
