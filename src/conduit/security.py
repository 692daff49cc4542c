"""Passwords (argon2id), tokens (JWT, HS256) and the authentication of each request.

A view declares what it needs with :func:`auth_required` or :func:`auth_optional`; the check runs in a
``before_request`` hook, so a request without credentials gets its 401 before its body is validated.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Literal, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, g, request

from conduit.db import session
from conduit.errors import unauthorized
from conduit.settings import Settings
from conduit.users.models import User

F = TypeVar("F", bound=Callable[..., object])
AuthMode = Literal["required", "optional"]
_AUTH_ATTR = "_conduit_auth"
_SCHEMES = re.compile(r"^(?:Token|Bearer)\s+(\S+)\s*$", re.IGNORECASE)
ALGORITHM = "HS256"


def auth_required(view: F) -> F:
    setattr(view, _AUTH_ATTR, "required")
    return view


def auth_optional(view: F) -> F:
    setattr(view, _AUTH_ATTR, "optional")
    return view


class Passwords:
    """Argon2id hashing with the configured cost; verifies unknown accounts against a dummy hash."""

    def __init__(self, settings: Settings) -> None:
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )

    @cached_property
    def _dummy_hash(self) -> str:
        return self.hasher.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when *password* matches; with no hash, spends the same time and returns False."""
        try:
            return (
                self.hasher.verify(password_hash or self._dummy_hash, password) and password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    #: The account's ``token_version`` when the token was issued (0 for tokens older than versions).
    version: int
    #: The ``jti``: what a password change keeps valid (None for tokens older than ids).
    token_id: str | None

    def valid_for(self, user: User) -> bool:
        """Issued since the account's last password change, or the token that made that change."""
        return self.version == user.token_version or (
            self.token_id is not None and self.token_id == user.kept_token_id
        )


class Tokens:
    def __init__(self, settings: Settings) -> None:
        self.secret = settings.secret_key
        self.issuer = settings.jwt_issuer
        self.lifetime = timedelta(seconds=settings.jwt_expires_seconds)

    def issue(self, user: User) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": str(user.id),
            "iss": self.issuer,
            "iat": now,
            "exp": now + self.lifetime,
            "jti": secrets.token_hex(16),
            "ver": user.token_version or 0,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def claims(self, token: str) -> TokenClaims:
        """What a well-signed, unexpired token says; raises an :class:`ApiError` (401) otherwise."""
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("has expired") from None
        except jwt.InvalidTokenError:
            raise unauthorized("is invalid") from None
        subject, version, token_id = claims["sub"], claims.get("ver", 0), claims.get("jti")
        if (
            not isinstance(subject, str)
            or not (subject.isascii() and subject.isdigit())
            or type(version) is not int
            or not (token_id is None or isinstance(token_id, str))
        ):
            raise unauthorized("is invalid")
        return TokenClaims(int(subject), version, token_id)

    def user_id(self, token: str) -> int:
        """The user id a well-signed, unexpired token names; raises an :class:`ApiError` (401) otherwise."""
        return self.claims(token).user_id


def revoke_other_tokens(user: User) -> None:
    """After a password change: only tokens issued from now on, and the current request's, stay valid."""
    user.token_version = (user.token_version or 0) + 1
    claims: TokenClaims | None = g.get("token_claims")
    user.kept_token_id = claims.token_id if claims is not None else None


def passwords() -> Passwords:
    hasher: Passwords = current_app.extensions["conduit.passwords"]
    return hasher


def tokens() -> Tokens:
    issuer: Tokens = current_app.extensions["conduit.tokens"]
    return issuer


def current_user() -> User:
    """The authenticated user of a view declared with :func:`auth_required`."""
    user: User | None = g.get("current_user")
    if user is None:
        raise unauthorized()
    return user


def optional_user() -> User | None:
    user: User | None = g.get("current_user")
    return user


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
    g.current_user = user
    g.token = match.group(1)
    g.token_claims = claims


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["conduit.passwords"] = Passwords(settings)
    app.extensions["conduit.tokens"] = Tokens(settings)
    app.before_request(authenticate)
