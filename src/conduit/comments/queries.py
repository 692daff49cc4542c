from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Row, exists, false, select
from sqlalchemy.orm import Session

from conduit.comments.models import Comment
from conduit.profiles.models import Follow
from conduit.users.models import User
from conduit.web.timestamps import iso_utc


def _view(viewer_id: int | None) -> Any:
    following: ColumnElement[bool] = (
        false()
        if viewer_id is None
        else exists().where(Follow.follower_id == viewer_id, Follow.followee_id == Comment.author_id)
    )
    return select(
        Comment.id,
        Comment.body,
        Comment.created_at,
        Comment.updated_at,
        User.username,
        User.bio,
        User.image,
        following.label("following"),
    ).join(User, User.id == Comment.author_id)


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
    db: Session, viewer_id: int | None, article_id: int, *, limit: int, offset: int = 0
) -> tuple[list[dict[str, Any]], bool]:
    """A page of an article's comments, oldest first (reading order), in one SELECT, and whether more
    follow (one row more than the page is read to know it)."""
    query = (
        _view(viewer_id)
        .where(Comment.article_id == article_id)
        .order_by(Comment.created_at, Comment.id)
        .limit(limit + 1)
        .offset(offset)
    )
    rows = db.execute(query).all()
    return [comment_json(row) for row in rows[:limit]], len(rows) > limit


def comment_view(db: Session, viewer_id: int | None, comment_id: int) -> dict[str, Any]:
    return comment_json(db.execute(_view(viewer_id).where(Comment.id == comment_id)).one())
