"""Passwords (argon2id) and tokens (JWT, HS256): the primitives. Who the request's user is, is decided in
:mod:`conduit.users.auth`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Protocol

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask

from conduit.extensions import Extension
from conduit.settings import Settings
from conduit.storage.ids import MAX_ROW_ID, is_row_id
from conduit.web.errors import unauthorized

ALGORITHM = "HS256"


class TokenHolder(Protocol):
    """What a token is issued for and checked against: an account (``conduit.users.models.User``)."""

    @property
    def id(self) -> int: ...

    @property
    def token_version(self) -> int | None: ...

    @property
    def kept_token_id(self) -> str | None: ...


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

    def valid_for(self, user: TokenHolder) -> bool:
        """Issued since the account's last password change, or the token that made that change."""
        return self.version == user.token_version or (
            self.token_id is not None and self.token_id == user.kept_token_id
        )


class Tokens:
    def __init__(self, settings: Settings) -> None:
        self.secret = settings.secret_key
        self.issuer = settings.jwt_issuer
        self.lifetime = timedelta(seconds=settings.jwt_expires_seconds)

    def issue(self, user: TokenHolder) -> str:
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
            or not (subject.isascii() and subject.isdigit() and len(subject) <= len(str(MAX_ROW_ID)))
            or not is_row_id(int(subject))
            or type(version) is not int
            or not (token_id is None or isinstance(token_id, str))
        ):
            raise unauthorized("is invalid")
        return TokenClaims(int(subject), version, token_id)

    def user_id(self, token: str) -> int:
        """The user id a well-signed, unexpired token names; raises an :class:`ApiError` (401) otherwise."""
        return self.claims(token).user_id


PASSWORDS: Extension[Passwords] = Extension("passwords")
TOKENS: Extension[Tokens] = Extension("tokens")


def passwords() -> Passwords:
    return PASSWORDS.get()


def tokens() -> Tokens:
    return TOKENS.get()


def init_app(app: Flask, settings: Settings) -> None:
    PASSWORDS.install(app, Passwords(settings))
    TOKENS.install(app, Tokens(settings))
