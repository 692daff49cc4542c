"""Comments on articles."""

from __future__ import annotations

from typing import Any

from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag
from sqlalchemy import select

from conduit.articles.routes import article_or_404
from conduit.articles.schemas import SlugPath
from conduit.comments.models import Comment
from conduit.comments.queries import article_comments, comment_view
from conduit.comments.schemas import (
    CommentPath,
    MultipleCommentsResponse,
    NewCommentRequest,
    SingleCommentResponse,
)
from conduit.observability import metrics
from conduit.storage.database import session
from conduit.users.auth import auth_optional, auth_required, current_user, optional_user
from conduit.users.models import Permission
from conduit.web.errors import forbidden, not_found
from conduit.web.openapi import TOKEN, responses

bp = APIBlueprint("comments", __name__, url_prefix="/api", abp_tags=[Tag(name="Comments")])


@bp.get(
    "/articles/<slug>/comments",
    responses=responses(200, MultipleCommentsResponse, 401, 404),
    operation_id="GetArticleComments",
)
@auth_optional
def get_comments(path: SlugPath) -> dict[str, Any]:
    """The comments of an article, oldest first."""
    db = session()
    article = article_or_404(db, path.slug)
    viewer = optional_user()
    return {"comments": article_comments(db, None if viewer is None else viewer.id, article.id)}


@bp.post(
    "/articles/<slug>/comments",
    responses=responses(201, SingleCommentResponse, 401, 404),
    security=TOKEN,
    operation_id="CreateArticleComment",
)
@auth_required
def add_comment(path: SlugPath, body: NewCommentRequest) -> tuple[dict[str, Any], int]:
    """Comment on an article."""
    user = current_user()
    db = session()
    article = article_or_404(db, path.slug)
    comment = Comment(body=body.comment.body, article_id=article.id, author_id=user.id)
    db.add(comment)
    db.commit()
    metrics.COMMENTS_CREATED.inc()
    return {"comment": comment_view(db, user.id, comment.id)}, 201


@bp.delete(
    "/articles/<slug>/comments/<id>",
    responses=responses(204, None, 401, 403, 404),
    security=TOKEN,
    operation_id="DeleteArticleComment",
)
@auth_required
def delete_comment(path: CommentPath) -> tuple[str, int]:
    """Delete a comment: its author may, and so may a moderator."""
    user = current_user()
    db = session()
    article = article_or_404(db, path.slug)
    comment = db.scalars(
        select(Comment).where(Comment.id == path.id, Comment.article_id == article.id)
    ).one_or_none()
    if comment is None:
        raise not_found("comment")
    if comment.author_id != user.id and not user.can(Permission.MODERATE):
        raise forbidden("comment")
    db.delete(comment)
    db.commit()
    return "", 204
