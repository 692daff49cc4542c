"""Who makes the request: the ``Authorization`` header resolved to an account before the view runs.

A view declares what it needs with :func:`auth_required`, :func:`auth_optional` or :func:`requires`
(a permission of the caller's role, issue 14, finding 10); the check runs in a ``before_request`` hook, so
a request without credentials gets its 401, and a role without the permission its 403, before its body
is validated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, TypeVar

from flask import Flask, current_app, g, request

from conduit.security import TokenClaims, tokens
from conduit.storage.database import session
from conduit.users.models import Permission, User
from conduit.web.errors import ApiError, unauthorized

F = TypeVar("F", bound=Callable[..., object])
AuthMode = Literal["required", "optional"]
_AUTH_ATTR = "_conduit_auth"
_PERMISSION_ATTR = "_conduit_permission"
_SCHEMES = re.compile(r"^(?:Token|Bearer)\s+(\S+)\s*$", re.IGNORECASE)


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
    """The authenticated user of a view declared with :func:`auth_required`."""
    user: User | None = g.get("current_user")
    if user is None:
        raise unauthorized()
    return user


def optional_user() -> User | None:
    user: User | None = g.get("current_user")
    return user


def revoke_other_tokens(user: User) -> None:
    """After a password change: only tokens issued from now on, and the current request's, stay valid."""
    user.token_version = (user.token_version or 0) + 1
    claims: TokenClaims | None = g.get("token_claims")
    user.kept_token_id = claims.token_id if claims is not None else None


def authenticate() -> None:
    """``before_request``: resolve the ``Authorization`` header for views that declared a mode."""
    g.current_user = None
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
    user = session().get(User, claims.user_id)
    if user is None or not claims.valid_for(user):
        raise unauthorized("is invalid")
    needed: Permission | None = getattr(view, _PERMISSION_ATTR, None)
    if needed is not None and not user.can(needed):
        action = (needed.name or "do this").lower()
        raise ApiError(403, {"permission": [f"your role may not {action}"]})
    g.current_user = user
    g.token = match.group(1)
    g.token_claims = claims


def init_app(app: Flask) -> None:
    app.before_request(authenticate)
