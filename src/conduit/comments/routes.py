"""Comments on articles."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag
from sqlalchemy import select

from conduit.articles.routes import article_or_404
from conduit.articles.schemas import SlugPath
from conduit.comments.models import Comment
from conduit.comments.queries import article_comments, comment_view
from conduit.comments.schemas import (
    CommentPath,
    CommentsQuery,
    MultipleCommentsResponse,
    NewCommentRequest,
    SingleCommentResponse,
)
from conduit.extensions import current_settings
from conduit.observability import metrics
from conduit.storage.database import session
from conduit.users.auth import auth_optional, auth_required, current_user, requires, viewer_id
from conduit.users.models import Permission
from conduit.web.errors import ApiError, forbidden, not_found
from conduit.web.openapi import TOKEN, responses

bp = APIBlueprint("comments", __name__, url_prefix="/api", abp_tags=[Tag(name="Comments")])


@bp.get(
    "/articles/<slug>/comments",
    responses=responses(200, MultipleCommentsResponse, 401, 404),
    operation_id="GetArticleComments",
)
@auth_optional
def get_comments(path: SlugPath, query: CommentsQuery) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The comments of an article, oldest first, at most COMMENTS_PAGE_SIZE (100) at a time: when more
    follow, the ``Link`` header names the next page (``rel="next"``). One statement, with or without a
    token: the article's existence comes with its page."""
    most = current_settings().comments_page_size
    limit = most if query.limit is None else query.limit
    if limit > most:
        raise ApiError(422, {"limit": [f"must be less than or equal to {most}"]})
    page = article_comments(session(), viewer_id(), path.slug, limit=limit, offset=query.offset)
    if page is None:
        raise not_found("article")
    comments, more = page
    headers = {}
    if more:
        following = url_for("comments.get_comments", slug=path.slug, limit=limit, offset=query.offset + limit)
        headers["Link"] = f'<{following}>; rel="next"'
    return {"comments": comments}, 200, headers


@bp.post(
    "/articles/<slug>/comments",
    responses=responses(201, SingleCommentResponse, 401, 403, 404),
    security=TOKEN,
    operation_id="CreateArticleComment",
)
@requires(Permission.COMMENT)
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
