"""The anonymous first page of ``GET /api/articles``, unfiltered or by one tag, cached in Redis (see
:mod:`conduit.storage.shared_state`): what every visitor who has not signed in sees first, the same for
all of them (``favorited`` and ``following`` are false without a viewer). Every write that can change such
a page (an article written, edited, deleted, favourited or unfavourited, an author's profile changed)
calls :func:`invalidate_lists` after its commit; ``LIST_CACHE_SECONDS`` bounds a lost invalidation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from conduit.extensions import current_settings
from conduit.storage import shared_state
from conduit.users.signals import profile_changed

CACHE_NAME = "article-lists"


def _page(value: Any) -> dict[str, Any] | None:
    if (
        isinstance(value, dict)
        and isinstance(value.get("articles"), list)
        and isinstance(value.get("articlesCount"), int)
    ):
        return value
    return None


def cached_page(tag: str | None, limit: int, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    variant = json.dumps([tag, limit], ensure_ascii=True, separators=(",", ":"))
    return shared_state.cached(
        CACHE_NAME, compute, ttl=current_settings().list_cache_seconds, parse=_page, variant=variant
    )


def invalidate_lists() -> None:
    shared_state.invalidate(CACHE_NAME)


@profile_changed.connect
def _author_changed(_user_id: Any) -> None:
    """An author's name, bio or image is on every page that lists one of their articles."""
    invalidate_lists()
