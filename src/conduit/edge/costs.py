"""What one request weighs against the global API limit, and whose writes a write limit counts.

A list filtered by tag, author or favouriting user, the feed, and a page deep into a list make the
database do more than a plain page (an index walk, a sort of the matching rows, an ``offset`` skipped
row by row): each uses RATE_LIMIT_EXPENSIVE_READ_COST units of RATE_LIMIT_API, any other request one.
The cost is decided from the request line alone, before any query runs.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import request

from conduit.security import tokens
from conduit.settings import Settings
from conduit.web.errors import ApiError

FILTERS = ("tag", "author", "favorited")
LISTS = frozenset({"articles.get_articles", "articles.get_feed", "comments.get_comments"})


def _offset() -> int:
    try:
        return int(request.args.get("offset", "0"))
    except ValueError:
        return 0  # refused with a 422 by validation: costs what a cheap request costs


def read_cost(settings: Settings) -> Callable[[], int]:
    expensive = settings.rate_limit_expensive_read_cost
    deep = settings.rate_limit_deep_offset

    def cost() -> int:
        if request.method != "GET" or request.endpoint not in LISTS:
            return 1
        if request.endpoint == "articles.get_feed" or _offset() >= deep:
            return expensive
        if request.endpoint == "articles.get_articles" and any(request.args.get(name) for name in FILTERS):
            return expensive
        return 1

    return cost


def account_or_address(address: Callable[[], str]) -> Callable[[], str]:
    """The account a validly signed token names (its writes are counted whatever address they come
    from), else the client's address. Revocation is checked later, by the authentication hook."""

    def key() -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() in ("token", "bearer") and token.strip():
            try:
                return f"user:{tokens().claims(token.strip()).user_id}"
            except ApiError:
                pass
        return "address:" + address()

    return key
