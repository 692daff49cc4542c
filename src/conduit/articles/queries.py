"""Article reads. A page of articles is one SELECT: the author is a join, the tags and the favourite count
are columns of the article row (``tag_names``, ``favorites_count``, kept by the writes), the viewer's
``favorited``/``following`` flags are correlated subqueries (primary-key lookups) and ``articlesCount`` an
uncorrelated one, so the statement count does not depend on the page size.

A filter by name (tag, author, favouriting user) is an uncorrelated scalar subquery on its unique index
(PostgreSQL runs it once, as an InitPlan), so the page query filters by id through an index
(``article_tags(tag_id, ...)``, ``favorites(user_id, ...)``, ``articles(author_id, ...)``) in the same
round trip; an unknown name is NULL, which matches nothing. ``articlesCount`` reads the counts the
triggers of migration 0006 keep (``row_counts``, ``tags.articles_count``) where one filter or none is used,
and counts index entries otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    bindparam,
    exists,
    false,
    func,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from conduit.articles.models import Article, Favorite, RowCount
from conduit.profiles.models import Follow
from conduit.tags.models import ArticleTag, Tag
from conduit.tags.queries import parse_tag_list, set_tags, tag_names_json
from conduit.users.models import User
from conduit.web.timestamps import iso_utc


@dataclass(frozen=True)
class ArticleFilter:
    tag: str | None = None
    author: str | None = None
    favorited: str | None = None
    #: Only articles by authors this user id follows (the feed).
    followed_by: int | None = None

    def parameters(self) -> dict[str, str | int]:
        """The filters in use, each the bound parameter of the same name."""
        named = {"tag": self.tag, "author": self.author, "favorited": self.favorited}
        used: dict[str, str | int] = {key: value for key, value in named.items() if value is not None}
        if self.followed_by is not None:
            used["followed_by"] = self.followed_by
        return used


def _id_of(key: str) -> ColumnElement[Any]:
    """The id a filter's name stands for (NULL when unknown), by a unique index."""
    if key == "tag":
        return select(Tag.id).where(Tag.name == bindparam(key)).scalar_subquery()
    return select(User.id).where(User.username == bindparam(key)).scalar_subquery()


def _conditions(used: frozenset[str]) -> list[ColumnElement[bool]]:
    # Each name must be known: a condition without a column, which PostgreSQL checks once, before it
    # reads any row (a One-Time Filter), so an unknown name reads no article at all.
    conditions: list[ColumnElement[bool]] = [
        _id_of(key).is_not(None) for key in sorted(used) if key in ("tag", "author", "favorited")
    ]
    if "tag" in used:
        tagged = select(ArticleTag.article_id).where(ArticleTag.tag_id == _id_of("tag"))
        conditions.append(Article.id.in_(tagged))
    if "author" in used:
        conditions.append(Article.author_id == _id_of("author"))
    if "favorited" in used:
        liked = select(Favorite.article_id).where(Favorite.user_id == _id_of("favorited"))
        conditions.append(Article.id.in_(liked))
    if "followed_by" in used:
        followed = select(Follow.followee_id).where(Follow.follower_id == bindparam("followed_by"))
        conditions.append(Article.author_id.in_(followed))
    return conditions


def set_article_tags(db: Session, article: Article, names: list[str]) -> None:
    """The article's tags: ``article_tags`` (the filter's index) and the row's ``tag_names``, together."""
    set_tags(db, article.id, article.created_at, names)
    db.execute(update(Article).where(Article.id == article.id).values(tag_names=tag_names_json(names)))


def count_favorite(db: Session, article_id: int, change: int) -> None:
    """Keep ``articles.favorites_count`` in the transaction that added (+1) or removed (-1) a favourite."""
    if change:
        db.execute(
            update(Article)
            .where(Article.id == article_id)
            .values(favorites_count=Article.favorites_count + change)
        )


def _view(dialect: str, authenticated: bool, *, with_body: bool) -> Select[Any]:
    favorited: ColumnElement[bool]
    following: ColumnElement[bool]
    if authenticated:
        viewer = bindparam("viewer_id", type_=Integer)
        favorited = exists().where(Favorite.article_id == Article.id, Favorite.user_id == viewer)
        following = exists().where(Follow.follower_id == viewer, Follow.followee_id == Article.author_id)
    else:
        favorited = following = false()
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
        Article.favorites_count,
        favorited.label("favorited"),
        following.label("following"),
        Article.tag_names.label("tag_list"),
    ]
    if with_body:
        columns.append(Article.body)
    return select(*columns).join(User, User.id == Article.author_id)


def _count_statement(used: frozenset[str], conditions: list[ColumnElement[bool]]) -> Select[Any]:
    """``articlesCount``. No filter, or a tag alone: the maintained counts (migration 0006), one row. A
    favouriting user alone: that user's ``favorites`` rows, an index-only scan that does not touch
    ``articles`` (each names an existing article: foreign keys). Otherwise the matching articles, through
    the filter's index."""
    if not used:
        total = select(RowCount.value).where(RowCount.name == "articles").scalar_subquery()
        return select(func.coalesce(total, 0))
    if used == {"tag"}:
        return select(Tag.articles_count).where(Tag.name == bindparam("tag"))
    if used == {"favorited"}:
        return select(func.count()).select_from(Favorite).where(Favorite.user_id == _id_of("favorited"))
    return select(func.count()).select_from(Article).where(*conditions)


@lru_cache(maxsize=128)
def _list_statement(dialect: str, authenticated: bool, used: frozenset[str]) -> Select[Any]:
    """The statement of one combination of filters, built once per process: building a statement this
    size took about a sixth of a list request's CPU. Values are bound parameters (``viewer_id``,
    ``limit``, ``offset`` and one per filter).

    The count is a one-row subquery that the page is outer-joined to, so even a page past the end (no
    article) is one round trip: a single row with the count and NULLs."""
    conditions = _conditions(used)
    ids: Select[Any]
    if used == {"tag"}:
        # The tag's rows of article_tags newest first: a range of one index (migration 0007).
        ids = (
            select(ArticleTag.article_id.label("id"))
            .where(_id_of("tag").is_not(None), ArticleTag.tag_id == _id_of("tag"))
            .order_by(ArticleTag.created_at.desc(), ArticleTag.article_id.desc())
        )
    else:
        ids = select(Article.id).where(*conditions).order_by(Article.created_at.desc(), Article.id.desc())
    page_ids = (
        ids.limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery("page_ids")
    )
    page = _view(dialect, authenticated, with_body=False).join(page_ids, page_ids.c.id == Article.id)
    rows = page.subquery("page")
    count = _count_statement(used, conditions).scalar_subquery().label("total")
    total = select(count).subquery("counted")
    return (
        select(total.c.total, *rows.c)
        .select_from(total)
        .outerjoin(rows, true())
        .order_by(rows.c.created_at.desc(), rows.c.id.desc())
    )


@lru_cache(maxsize=16)
def _single_statement(dialect: str, authenticated: bool, key: str) -> Select[Any]:
    column = Article.slug if key == "slug" else Article.id
    return _view(dialect, authenticated, with_body=True).where(column == bindparam(key))


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
    """One page, newest first, and the number of articles that match the filters, in one statement.
    The page's ids are chosen first from the index alone, so the per-article subqueries run for the page
    only, not for every row an ``offset`` skips; the count is an uncorrelated scalar subquery (evaluated
    once), so a page past the end is the same one statement."""
    parameters = filters.parameters()
    query = _list_statement(_dialect(db), viewer_id is not None, frozenset(parameters))
    rows = db.execute(query, {**parameters, "viewer_id": viewer_id, "limit": limit, "offset": offset}).all()
    articles = [article_json(row, with_body=False) for row in rows if row.id is not None]
    return articles, int(rows[0].total or 0)


def find_article(db: Session, slug: str) -> Article | None:
    return db.scalars(select(Article).where(Article.slug == slug)).one_or_none()


def article_view(db: Session, viewer_id: int | None, article_id: int) -> dict[str, Any]:
    """The full article as the API returns it, from one SELECT."""
    query = _single_statement(_dialect(db), viewer_id is not None, "article_id")
    return article_json(
        db.execute(query, {"article_id": article_id, "viewer_id": viewer_id}).one(), with_body=True
    )


def article_view_by_slug(db: Session, viewer_id: int | None, slug: str) -> dict[str, Any] | None:
    query = _single_statement(_dialect(db), viewer_id is not None, "slug")
    row = db.execute(query, {"slug": slug, "viewer_id": viewer_id}).one_or_none()
    return None if row is None else article_json(row, with_body=True)


def _dialect(db: Session) -> str:
    return db.get_bind().dialect.name
