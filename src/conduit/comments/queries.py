"""Comment reads. A page of an article's comments is one SELECT that also says whether the article
exists: the article row (found by its slug's unique index) is outer-joined to the page, so an article
without comments, or a page past the end, is one row of NULL comment columns, and an unknown slug no row
at all. The page picks its comments by ``comments(article_id, created_at)`` under the article's id, an
uncorrelated scalar subquery on the slug (evaluated once), and the viewer's ``following`` flag is a
correlated subquery (a primary-key lookup in ``follows``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Row, Select, bindparam, exists, false, select, true
from sqlalchemy.orm import Session

from conduit.articles.models import Article
from conduit.comments.models import Comment
from conduit.profiles.models import Follow
from conduit.users.models import User
from conduit.web.timestamps import iso_utc


def _view(authenticated: bool) -> Select[Any]:
    following: ColumnElement[bool] = (
        exists().where(
            Follow.follower_id == bindparam("viewer_id", type_=Integer),
            Follow.followee_id == Comment.author_id,
        )
        if authenticated
        else false()
    )
    columns: list[Any] = [
        Comment.id,
        Comment.body,
        Comment.created_at,
        Comment.updated_at,
        User.username,
        User.bio,
        User.image,
        following.label("following"),
    ]
    return select(*columns).join(User, User.id == Comment.author_id)


@lru_cache(maxsize=4)
def _page_statement(authenticated: bool) -> Select[Any]:
    """Built once per process for each viewer shape; the slug, the viewer id, ``limit`` and ``offset``
    are bound parameters. ``limit`` is one more than the page, to learn whether another follows."""
    article_id = select(Article.id).where(Article.slug == bindparam("slug")).scalar_subquery()
    page = (
        _view(authenticated)
        .where(Comment.article_id == article_id)
        .order_by(Comment.created_at, Comment.id)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery("page")
    )
    return (
        select(Article.id.label("article_id"), *page.c)
        .select_from(Article)
        .outerjoin(page, true())
        .where(Article.slug == bindparam("slug"))
        .order_by(page.c.created_at, page.c.id)
    )


@lru_cache(maxsize=4)
def _single_statement(authenticated: bool) -> Select[Any]:
    return _view(authenticated).where(Comment.id == bindparam("comment_id", type_=Integer))


def comment_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "createdAt": iso_utc(row.created_at),
        "updatedAt": iso_utc(row.updated_at),
        "body": row.body,
        "author": {
            "username": row.username,
            "bio": row.bio,
            "image": row.image,
            "following": bool(row.following),
        },
    }


def article_comments(
    db: Session, viewer_id: int | None, slug: str, *, limit: int, offset: int = 0
) -> tuple[list[dict[str, Any]], bool] | None:
    """A page of the comments of the article *slug*, oldest first (reading order), and whether more
    follow (one row more than the page is read to know it); None when there is no such article. One
    SELECT, with or without a viewer."""
    statement = _page_statement(viewer_id is not None)
    parameters = {"slug": slug, "viewer_id": viewer_id, "limit": limit + 1, "offset": offset}
    rows = db.execute(statement, parameters).all()
    if not rows:
        return None
    comments = [row for row in rows if row.id is not None]
    return [comment_json(row) for row in comments[:limit]], len(comments) > limit


def comment_view(db: Session, viewer_id: int | None, comment_id: int) -> dict[str, Any]:
    statement = _single_statement(viewer_id is not None)
    return comment_json(db.execute(statement, {"comment_id": comment_id, "viewer_id": viewer_id}).one())
