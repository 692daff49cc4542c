"""Article reads. A page of articles is one SELECT: author, tags, favourite count and the viewer's
``favorited``/``following`` flags are correlated subqueries, so the statement count does not depend on
the page size (plus one COUNT for ``articlesCount``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, exists, false, func, select
from sqlalchemy.orm import Session, aliased

from conduit.articles.models import Article, Favorite
from conduit.profiles.models import Follow
from conduit.tags.models import ArticleTag, Tag
from conduit.tags.queries import parse_tag_list, tag_list_column
from conduit.timestamps import iso_utc
from conduit.users.models import User


@dataclass(frozen=True)
class ArticleFilter:
    tag: str | None = None
    author: str | None = None
    favorited: str | None = None
    #: Only articles by authors this user id follows (the feed).
    followed_by: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.tag is not None:
            tagged = (
                select(ArticleTag.article_id)
                .join(Tag, Tag.id == ArticleTag.tag_id)
                .where(Tag.name == self.tag)
            )
            conditions.append(Article.id.in_(tagged))
        if self.author is not None:
            author = aliased(User)
            conditions.append(Article.author_id.in_(select(author.id).where(author.username == self.author)))
        if self.favorited is not None:
            fan = aliased(User)
            liked = (
                select(Favorite.article_id)
                .join(fan, fan.id == Favorite.user_id)
                .where(fan.username == self.favorited)
            )
            conditions.append(Article.id.in_(liked))
        if self.followed_by is not None:
            followed = select(Follow.followee_id).where(Follow.follower_id == self.followed_by)
            conditions.append(Article.author_id.in_(followed))
        return conditions


def _view(db: Session, viewer_id: int | None, *, with_body: bool) -> Select[Any]:
    dialect = db.get_bind().dialect.name
    favorites_count = select(func.count()).where(Favorite.article_id == Article.id).scalar_subquery()
    favorited: ColumnElement[bool]
    following: ColumnElement[bool]
    if viewer_id is None:
        favorited = following = false()
    else:
        favorited = exists().where(Favorite.article_id == Article.id, Favorite.user_id == viewer_id)
        following = exists().where(Follow.follower_id == viewer_id, Follow.followee_id == Article.author_id)
    columns: list[Any] = [
        Article.id,
        Article.slug,
        Article.title,
        Article.description,
        Article.created_at,
        Article.updated_at,
        User.username,
        User.bio,
        User.image,
        favorites_count.label("favorites_count"),
        favorited.label("favorited"),
        following.label("following"),
        tag_list_column(dialect, Article.id).label("tag_list"),
    ]
    if with_body:
        columns.append(Article.body)
    return select(*columns).join(User, User.id == Article.author_id)


def article_json(row: Row[Any], *, with_body: bool) -> dict[str, Any]:
    article: dict[str, Any] = {
        "slug": row.slug,
        "title": row.title,
        "description": row.description,
    }
    if with_body:
        article["body"] = row.body
    article.update(
        tagList=parse_tag_list(row.tag_list),
        createdAt=iso_utc(row.created_at),
        updatedAt=iso_utc(row.updated_at),
        favorited=bool(row.favorited),
        favoritesCount=int(row.favorites_count),
        author={
            "username": row.username,
            "bio": row.bio,
            "image": row.image,
            "following": bool(row.following),
        },
    )
    return article


def list_articles(
    db: Session, viewer_id: int | None, filters: ArticleFilter, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page, newest first, and the number of articles that match the filters."""
    conditions = filters.conditions()
    total = db.scalar(select(func.count()).select_from(Article).where(*conditions)) or 0
    if total <= offset:
        return [], total
    query = (
        _view(db, viewer_id, with_body=False)
        .where(*conditions)
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [article_json(row, with_body=False) for row in db.execute(query)], total


def find_article(db: Session, slug: str) -> Article | None:
    return db.scalars(select(Article).where(Article.slug == slug)).one_or_none()


def article_view(db: Session, viewer_id: int | None, article_id: int) -> dict[str, Any]:
    """The full article as the API returns it, from one SELECT."""
    row = db.execute(_view(db, viewer_id, with_body=True).where(Article.id == article_id)).one()
    return article_json(row, with_body=True)


def article_view_by_slug(db: Session, viewer_id: int | None, slug: str) -> dict[str, Any] | None:
    row = db.execute(_view(db, viewer_id, with_body=True).where(Article.slug == slug)).one_or_none()
    return None if row is None else article_json(row, with_body=True)
