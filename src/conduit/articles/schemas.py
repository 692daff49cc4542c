from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from conduit.profiles.schemas import Profile
from conduit.web.validation import RequestModel, RequiredText

TAG_MAX_LENGTH = 64
MAX_TAGS = 20


def _printable(value: str) -> str:
    # Control characters (Cc) only: str.isprintable() would also refuse the zero-width joiner of emoji
    # sequences such as 👩‍💻 and characters of newer Unicode versions.
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise PydanticCustomError("tag", "must not contain control characters")
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


TagName = Annotated[
    RequiredText,
    # the same rule as _printable, for the OpenAPI document: no control character (C0, DEL, C1)
    Field(
        max_length=TAG_MAX_LENGTH,
        json_schema_extra={
            "pattern": r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
        },
    ),
    AfterValidator(_printable),
]
TagList = Annotated[list[TagName], Field(max_length=MAX_TAGS), AfterValidator(_unique)]
Title = Annotated[RequiredText, Field(max_length=255)]
Description = Annotated[RequiredText, Field(max_length=1000)]
Body = Annotated[RequiredText, Field(max_length=100_000)]


class NewArticle(RequestModel):
    title: Title
    description: Description
    body: Body
    tag_list: TagList = Field(default_factory=list, alias="tagList")


class NewArticleRequest(RequestModel):
    article: NewArticle


class UpdateArticle(RequestModel):
    """Fields left out keep their value; ``tagList`` replaces the tags (``[]`` removes them all)."""

    title: Title = ""
    description: Description = ""
    body: Body = ""
    tag_list: TagList = Field(default_factory=list, alias="tagList")


class UpdateArticleRequest(RequestModel):
    article: UpdateArticle


class ArticleQuery(BaseModel):
    # As long as a tag or a username may be: three such values, percent-encoded, still fit the 4 KiB
    # request line gunicorn accepts.
    tag: str | None = Field(
        default=None, max_length=TAG_MAX_LENGTH, description="Only articles with this tag"
    )
    author: str | None = Field(default=None, max_length=64, description="Only articles by this username")
    favorited: str | None = Field(
        default=None, max_length=64, description="Only articles this username favourited"
    )
    limit: int | None = Field(
        default=None,
        ge=1,
        description="Page size: default 20, maximum 100 (MAX_PAGE_SIZE)",
        json_schema_extra={"maximum": 100},
    )
    offset: int = Field(default=0, ge=0, le=2**31 - 1, description="Articles to skip")


class FeedQuery(BaseModel):
    limit: int | None = Field(
        default=None,
        ge=1,
        description="Page size: default 20, maximum 100 (MAX_PAGE_SIZE)",
        json_schema_extra={"maximum": 100},
    )
    offset: int = Field(default=0, ge=0, le=2**31 - 1, description="Articles to skip")


class SlugPath(BaseModel):
    slug: str = Field(max_length=300)


class ArticleListItem(BaseModel):
    slug: str
    title: str
    description: str
    tagList: list[str]  # noqa: N815
    createdAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    favorited: bool
    favoritesCount: int  # noqa: N815
    author: Profile


class Article(ArticleListItem):
    body: str


class SingleArticleResponse(BaseModel):
    article: Article


class MultipleArticlesResponse(BaseModel):
    articles: list[ArticleListItem]
    articlesCount: int  # noqa: N815
