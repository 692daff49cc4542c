from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from conduit.profiles.schemas import Profile
from conduit.web.validation import RequestModel, RequiredText, RowId, within_rows


class NewComment(RequestModel):
    body: Annotated[RequiredText, Field(max_length=10_000)]


class NewCommentRequest(RequestModel):
    comment: NewComment


class CommentsQuery(BaseModel):
    """A page of an article's comments, oldest first. When more follow, the response's ``Link`` header
    names the next page (``rel="next"``); the body keeps the spec's shape."""

    limit: int | None = Field(
        default=None,
        ge=1,
        description="Page size: default and maximum 100 (COMMENTS_PAGE_SIZE)",
        json_schema_extra={"maximum": 100},
    )
    offset: int = Field(default=0, ge=0, le=2**31 - 1, description="Comments to skip")


class CommentPath(BaseModel):
    slug: str = Field(max_length=300)
    id: Annotated[RowId, within_rows("comment")] = Field(description="The comment's id")


class Comment(BaseModel):
    id: int
    createdAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    body: str
    author: Profile


class SingleCommentResponse(BaseModel):
    comment: Comment


class MultipleCommentsResponse(BaseModel):
    comments: list[Comment]
