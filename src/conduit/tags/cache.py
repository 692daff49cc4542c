"""``GET /api/tags`` cached in Redis (see :mod:`conduit.storage.shared_state`); every write that can change
the list of tags in use calls :func:`invalidate_tags` after its commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduit.extensions import current_settings
from conduit.storage import shared_state

CACHE_NAME = "tags"


def _tag_names(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(name, str) for name in value):
        return value
    return None


def cached_tags(compute: Callable[[], list[str]]) -> list[str]:
    return shared_state.cached(
        CACHE_NAME, compute, ttl=current_settings().tags_cache_seconds, parse=_tag_names
    )


def invalidate_tags() -> None:
    shared_state.invalidate(CACHE_NAME)
