"""URL slugs: readable, unique, and stable when the title changes (links keep working)."""

from __future__ import annotations

import secrets

from slugify import slugify
from sqlalchemy import select
from sqlalchemy.orm import Session

from conduit.articles.models import Article

MAX_BASE_LENGTH = 200
#: Slugs that would be shadowed by a fixed route such as ``GET /api/articles/feed``.
RESERVED = frozenset({"feed"})


def base_slug(title: str) -> str:
    return slugify(title, max_length=MAX_BASE_LENGTH, word_boundary=True) or "article"


def with_suffix(base: str) -> str:
    return f"{base}-{secrets.token_hex(3)}"


def available_slug(db: Session, title: str) -> str:
    """The title's slug, or the slug with a random suffix when another article (or a route) has it."""
    base = base_slug(title)
    taken = base in RESERVED or db.scalar(select(Article.id).where(Article.slug == base)) is not None
    return with_suffix(base) if taken else base
