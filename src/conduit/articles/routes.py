"""Articles, the feed and favourites."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conduit.articles.cache import cached_page, invalidate_lists
from conduit.articles.models import Article, Favorite
from conduit.articles.queries import (
    ArticleFilter,
    article_view,
    article_view_by_slug,
    count_favorite,
    find_article,
    list_articles,
    set_article_tags,
)
from conduit.articles.schemas import (
    ArticleQuery,
    FeedQuery,
    MultipleArticlesResponse,
    NewArticleRequest,
    SingleArticleResponse,
    SlugPath,
    UpdateArticleRequest,
)
from conduit.articles.slugs import available_slug, base_slug, with_suffix
from conduit.extensions import current_settings
from conduit.observability import metrics
from conduit.storage.database import insert_ignoring_duplicates, session, utcnow
from conduit.tags.cache import invalidate_tags
from conduit.users.auth import auth_optional, auth_required, current_user, requires, viewer_id
from conduit.users.models import Permission, User
from conduit.web.errors import ApiError, forbidden, not_found, unauthorized
from conduit.web.http_cache import revalidated
from conduit.web.openapi import TOKEN, responses

bp = APIBlueprint("articles", __name__, url_prefix="/api", abp_tags=[Tag(name="Articles")])
favorites_bp = APIBlueprint("favorites", __name__, url_prefix="/api", abp_tags=[Tag(name="Favorites")])

SLUG_ATTEMPTS = 5


def page_size(limit: int | None) -> int:
    config = current_settings()
    if limit is None:
        return config.default_page_size
    if limit > config.max_page_size:
        raise ApiError(422, {"limit": [f"must be less than or equal to {config.max_page_size}"]})
    return limit


def article_or_404(db: Session, slug: str) -> Article:
    article = find_article(db, slug)
    if article is None:
        raise not_found("article")
    return article


def _editable(db: Session, slug: str, user: User) -> Article:
    article = article_or_404(db, slug)
    if article.author_id != user.id and not user.can(Permission.ADMIN):
        raise forbidden("article")
    return article


@bp.get("/articles", responses=responses(200, MultipleArticlesResponse, 401), operation_id="GetArticles")
@auth_optional
def get_articles(query: ArticleQuery) -> dict[str, Any]:
    """Recent articles, newest first, filtered by tag, author or the user who favourited them."""
    filters = ArticleFilter(tag=query.tag, author=query.author, favorited=query.favorited)
    viewer, limit = viewer_id(), page_size(query.limit)

    def page() -> dict[str, Any]:
        articles, count = list_articles(session(), viewer, filters, limit=limit, offset=query.offset)
        return {"articles": articles, "articlesCount": count}

    if viewer is None and query.offset == 0 and query.author is None and query.favorited is None:
        return cached_page(query.tag, limit, page)  # the same for every visitor who has not signed in
    return page()


@bp.get(
    "/articles/feed",
    responses=responses(200, MultipleArticlesResponse, 401),
    security=TOKEN,
    operation_id="GetArticlesFeed",
)
@auth_required
def get_feed(query: FeedQuery) -> dict[str, Any]:
    """Recent articles by the authors the caller follows."""
    user_id = viewer_id()
    if user_id is None:  # not reached: auth_required lets only a valid token through
        raise unauthorized()
    articles, count = list_articles(
        session(),
        user_id,
        ArticleFilter(followed_by=user_id),
        limit=page_size(query.limit),
        offset=query.offset,
    )
    return {"articles": articles, "articlesCount": count}


@bp.post(
    "/articles",
    responses=responses(201, SingleArticleResponse, 401, 403, 409),
    security=TOKEN,
    operation_id="CreateArticle",
)
@requires(Permission.WRITE)
def create_article(body: NewArticleRequest) -> tuple[dict[str, Any], int]:
    """Publish an article. Titles need not be unique: a taken slug gets a random suffix."""
    user = current_user()
    data = body.article
    db = session()
    slug = available_slug(db, data.title)
    for _attempt in range(SLUG_ATTEMPTS):
        article = Article(
            slug=slug, title=data.title, description=data.description, body=data.body, author_id=user.id
        )
        try:
            with db.begin_nested():
                db.add(article)
                db.flush()
            break
        except IntegrityError:  # another request took the same slug meanwhile
            slug = with_suffix(base_slug(data.title))
    else:
        raise ApiError(409, {"slug": ["has already been taken"]})
    set_article_tags(db, article, data.tag_list)
    db.commit()
    metrics.ARTICLES_PUBLISHED.inc()
    invalidate_lists()
    if data.tag_list:
        invalidate_tags()
    return {"article": article_view(db, user.id, article.id)}, 201


@bp.get("/articles/<slug>", responses=responses(200, SingleArticleResponse, 404), operation_id="GetArticle")
@auth_optional
def get_article(path: SlugPath) -> Response:
    """One article with its body. Sends an ETag; a matching ``If-None-Match`` gets 304."""
    viewer = viewer_id()
    article = article_view_by_slug(session(), viewer, path.slug)
    if article is None:
        raise not_found("article")
    return revalidated({"article": article}, personal=viewer is not None)


@bp.put(
    "/articles/<slug>",
    responses=responses(200, SingleArticleResponse, 401, 403, 404),
    security=TOKEN,
    operation_id="UpdateArticle",
)
@requires(Permission.WRITE)
def update_article(path: SlugPath, body: UpdateArticleRequest) -> dict[str, Any]:
    """Change an article (its author, or an administrator). The slug stays the same."""
    user = current_user()
    db = session()
    article = _editable(db, path.slug, user)
    data = body.article
    sent = data.model_fields_set
    if "title" in sent:
        article.title = data.title
    if "description" in sent:
        article.description = data.description
    if "body" in sent:
        article.body = data.body
    if "tag_list" in sent:
        set_article_tags(db, article, data.tag_list)
    # Strictly later than before, so that clients comparing updatedAt always see the change.
    article.updated_at = max(utcnow(), article.updated_at + timedelta(milliseconds=1))
    db.commit()
    invalidate_lists()
    if "tag_list" in sent:
        invalidate_tags()
    return {"article": article_view(db, user.id, article.id)}


@bp.delete(
    "/articles/<slug>",
    responses=responses(204, None, 401, 403, 404),
    security=TOKEN,
    operation_id="DeleteArticle",
)
@auth_required
def delete_article(path: SlugPath) -> tuple[str, int]:
    """Delete an article with its comments, tags and favourites (its author, or an administrator)."""
    db = session()
    article = _editable(db, path.slug, current_user())
    db.execute(delete(Article).where(Article.id == article.id))
    db.commit()
    invalidate_lists()
    invalidate_tags()
    return "", 204


@favorites_bp.post(
    "/articles/<slug>/favorite",
    responses=responses(200, SingleArticleResponse, 401, 403, 404),
    security=TOKEN,
    operation_id="CreateArticleFavorite",
)
@requires(Permission.FOLLOW)
def favorite(path: SlugPath) -> dict[str, Any]:
    """Favourite an article (twice is the same as once)."""
    user = current_user()
    db = session()
    article = article_or_404(db, path.slug)
    added = insert_ignoring_duplicates(db, Favorite, [{"user_id": user.id, "article_id": article.id}])
    count_favorite(db, article.id, added)
    db.commit()
    if added:
        invalidate_lists()
    return {"article": article_view(db, user.id, article.id)}


@favorites_bp.delete(
    "/articles/<slug>/favorite",
    responses=responses(200, SingleArticleResponse, 401, 404),
    security=TOKEN,
    operation_id="DeleteArticleFavorite",
)
@auth_required
def unfavorite(path: SlugPath) -> dict[str, Any]:
    """Remove a favourite (a no-op when there is none)."""
    user = current_user()
    db = session()
    article = article_or_404(db, path.slug)
    result = db.execute(
        delete(Favorite).where(Favorite.user_id == user.id, Favorite.article_id == article.id)
    )
    removed = int(getattr(result, "rowcount", 0) or 0)
    count_favorite(db, article.id, -removed)
    db.commit()
    if removed:
        invalidate_lists()
    return {"article": article_view(db, user.id, article.id)}
