from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from conduit.profiles.schemas import Profile
from conduit.web.validation import RequestModel, RequiredText, RowId, within_rows


class NewComment(RequestModel):
    body: Annotated[RequiredText, Field(max_length=10_000)]


class NewCommentRequest(RequestModel):
    comment: NewComment


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
