"""Who makes the request: the ``Authorization`` header resolved to an account before the view runs.

A view declares what it needs with :func:`auth_required`, :func:`auth_optional` or :func:`requires`
(a permission of the caller's role, issue 14, finding 10); the check runs in a ``before_request`` hook, so
a request without credentials gets its 401, and a role without the permission its 403, before its body
is validated.

The check compares the token's version with the account's. With Redis, each worker keeps the versions
it read in a :class:`~conduit.storage.invalidated_cache.InvalidatedCache` (``TOKEN_CACHE_SECONDS``), so a
read with a token costs no query of its own (issue 16); a password change publishes the account's id
after its commit and every worker evicts it. A view that needs the account itself (:func:`current_user`)
loads it and checks the token against it again; a read that only needs who is asking uses
:func:`viewer_id`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, TypeVar

from flask import Flask, current_app, g, request

from conduit.security import TokenClaims, tokens
from conduit.settings import Settings
from conduit.storage.database import session
from conduit.storage.invalidated_cache import InvalidatedCache
from conduit.storage.shared_state import EXTENSION as SHARED_STATE
from conduit.storage.shared_state import SharedState
from conduit.users.models import Permission, User
from conduit.web.errors import ApiError, unauthorized

F = TypeVar("F", bound=Callable[..., object])
AuthMode = Literal["required", "optional"]
_AUTH_ATTR = "_conduit_auth"
_PERMISSION_ATTR = "_conduit_permission"
_SCHEMES = re.compile(r"^(?:Token|Bearer)\s+(\S+)\s*$", re.IGNORECASE)
CACHE_EXTENSION = "conduit.users.token_cache"


class _Versions:
    """An account's ``token_version`` and ``kept_token_id``: what :meth:`TokenClaims.valid_for` reads."""

    __slots__ = ("id", "kept_token_id", "token_version")

    def __init__(self, user_id: int, token_version: int | None, kept_token_id: str | None) -> None:
        self.id = user_id
        self.token_version = token_version
        self.kept_token_id = kept_token_id


TokenCache = InvalidatedCache[_Versions]


def auth_required(view: F) -> F:
    setattr(view, _AUTH_ATTR, "required")
    return view


def auth_optional(view: F) -> F:
    setattr(view, _AUTH_ATTR, "optional")
    return view


def requires(permission: Permission) -> Callable[[F], F]:
    """Authentication required, and a role holding *permission*: else 403 in the spec's error shape."""

    def mark(view: F) -> F:
        setattr(view, _AUTH_ATTR, "required")
        setattr(view, _PERMISSION_ATTR, permission)
        return view

    return mark


def current_user() -> User:
    """The authenticated user of a view declared with :func:`auth_required`, read from the database (and
    its token checked against it) if the hook answered from the cache."""
    user: User | None = g.get("current_user")
    if user is not None:
        return user
    claims: TokenClaims | None = g.get("token_claims")
    if claims is None:
        raise unauthorized()
    user = session().get(User, claims.user_id)
    if user is None or not claims.valid_for(user):
        raise unauthorized("is invalid")
    g.current_user = user
    return user


def viewer_id() -> int | None:
    """The id of the account a valid token names, or None without one: no query."""
    claims: TokenClaims | None = g.get("token_claims")
    return None if claims is None else claims.user_id


def revoke_other_tokens(user: User) -> None:
    """After a password change: only tokens issued from now on, and the current request's, stay valid.
    Call :func:`tokens_changed` once the change has committed."""
    user.token_version = (user.token_version or 0) + 1
    claims: TokenClaims | None = g.get("token_claims")
    user.kept_token_id = claims.token_id if claims is not None else None


def tokens_changed(user_id: int) -> None:
    """After the commit of a change to an account's tokens (or its deletion): every worker forgets it."""
    cache: TokenCache | None = current_app.extensions.get(CACHE_EXTENSION)
    if cache is not None:
        cache.publish(user_id)


def _check(claims: TokenClaims) -> None:
    cache: TokenCache | None = current_app.extensions.get(CACHE_EXTENSION)
    generation = 0
    if cache is not None:
        versions = cache.get(claims.user_id)
        if versions is not None:
            if not claims.valid_for(versions):
                raise unauthorized("is invalid")
            return
        generation = cache.begin()
    user = session().get(User, claims.user_id)
    if user is None:
        raise unauthorized("is invalid")
    if cache is not None:
        cache.store(user.id, _Versions(user.id, user.token_version, user.kept_token_id), generation)
    if not claims.valid_for(user):
        raise unauthorized("is invalid")
    g.current_user = user


def authenticate() -> None:
    """``before_request``: resolve the ``Authorization`` header for views that declared a mode."""
    g.current_user = None
    g.token_claims = None
    if request.method == "OPTIONS" or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    mode: AuthMode | None = getattr(view, _AUTH_ATTR, None)
    if mode is None:
        return
    header = request.headers.get("Authorization", "").strip()
    if not header:
        if mode == "required":
            raise unauthorized("is missing")
        return
    match = _SCHEMES.match(header)
    if match is None:
        raise unauthorized("is invalid")
    claims = tokens().claims(match.group(1))
    _check(claims)
    g.token = match.group(1)
    g.token_claims = claims
    needed: Permission | None = getattr(view, _PERMISSION_ATTR, None)
    if needed is not None and not current_user().can(needed):  # the role: read from the account
        action = (needed.name or "do this").lower()
        raise ApiError(403, {"permission": [f"your role may not {action}"]})


def init_app(app: Flask, settings: Settings) -> None:
    app.before_request(authenticate)
    state: SharedState | None = app.extensions.get(SHARED_STATE)
    if state is not None and settings.token_cache_seconds > 0:
        app.extensions[CACHE_EXTENSION] = TokenCache(
            state.client,
            state.key("token-versions"),
            ttl=settings.token_cache_seconds,
            retry_seconds=max(settings.redis_backoff_seconds, 1.0),
        )
