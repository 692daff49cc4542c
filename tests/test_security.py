"""Passwords (argon2id) and tokens (JWT, HS256)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from conduit.security import ALGORITHM, Passwords, Tokens
from conduit.settings import Settings, load_settings
from conduit.users.models import User
from conduit.web.errors import ApiError


@pytest.fixture
def settings() -> Settings:
    return load_settings(conduit_env="testing", database_url="sqlite://")


@pytest.fixture
def passwords(settings: Settings) -> Passwords:
    return Passwords(settings)


@pytest.fixture
def tokens(settings: Settings) -> Tokens:
    return Tokens(settings)


def user(user_id: int) -> User:
    return User(id=user_id, username=f"u{user_id}", email=f"u{user_id}@example.com", password_hash="x")


def claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "sub": "7",
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def rejected(tokens: Tokens, token: str) -> list[str]:
    with pytest.raises(ApiError) as caught:
        tokens.user_id(token)
    assert caught.value.status == 401
    assert caught.value.headers.get("WWW-Authenticate", "").startswith("Token")
    return caught.value.errors["token"]


# --- passwords ------------------------------------------------------------------------------------


def test_hash_is_argon2id_and_salted(passwords: Passwords) -> None:
    first = passwords.hash("correct horse battery staple")
    second = passwords.hash("correct horse battery staple")
    assert first.startswith("$argon2id$")
    assert first != second
    assert "correct horse" not in first


def test_verify_accepts_the_right_password_only(passwords: Passwords) -> None:
    hashed = passwords.hash("password123")
    assert passwords.verify(hashed, "password123") is True
    assert passwords.verify(hashed, "password124") is False
    assert passwords.verify(hashed, "") is False
    assert passwords.verify(hashed, "PASSWORD123") is False


def test_verify_with_no_hash_is_false(passwords: Passwords) -> None:
    assert passwords.verify(None, "not-a-real-password") is False
    assert passwords.verify(None, "anything") is False


def test_verify_with_a_corrupt_hash_is_false(passwords: Passwords) -> None:
    assert passwords.verify("not-a-hash", "password123") is False
    assert passwords.verify("$argon2id$v=19$m=64,t=1,p=1$garbage", "password123") is False


def test_hash_uses_the_configured_cost(settings: Settings, passwords: Passwords) -> None:
    hashed = passwords.hash("password123")
    assert (
        f"m={settings.argon2_memory_kib},t={settings.argon2_time_cost},p={settings.argon2_parallelism}"
        in hashed
    )
    assert passwords.needs_rehash(hashed) is False
    stronger = Passwords(load_settings(conduit_env="testing", argon2_time_cost=2))
    assert stronger.needs_rehash(hashed) is True
    assert stronger.verify(hashed, "password123") is True


# --- tokens ---------------------------------------------------------------------------------------


def test_issue_and_decode(tokens: Tokens) -> None:
    token = tokens.issue(user(42))
    assert tokens.user_id(token) == 42
    header = jwt.get_unverified_header(token)
    assert header["alg"] == ALGORITHM == "HS256"


def test_issued_token_carries_the_standard_claims(settings: Settings, tokens: Tokens) -> None:
    payload = jwt.decode(tokens.issue(user(5)), settings.secret_key, algorithms=[ALGORITHM], issuer="conduit")
    assert payload["sub"] == "5"
    assert payload["iss"] == settings.jwt_issuer
    assert payload["exp"] - payload["iat"] == settings.jwt_expires_seconds


def test_token_signed_with_another_key_is_invalid(settings: Settings, tokens: Tokens) -> None:
    other = Tokens(load_settings(conduit_env="testing", secret_key="another-secret-key-of-enough-length-x"))
    assert rejected(tokens, other.issue(user(1))) == ["is invalid"]
    forged = jwt.encode(claims(settings), "wrong-key-wrong-key-wrong-key-123", algorithm="HS256")
    assert rejected(tokens, forged) == ["is invalid"]


def test_unsigned_alg_none_token_is_rejected(settings: Settings, tokens: Tokens) -> None:
    unsigned = jwt.encode(claims(settings), None, algorithm="none")
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"
    assert rejected(tokens, unsigned) == ["is invalid"]
    # The same token with the signature part of a real one attached is no better.
    signature = tokens.issue(user(7)).rsplit(".", 1)[1]
    assert rejected(tokens, unsigned.rstrip(".") + "." + signature) == ["is invalid"]


def test_other_algorithm_is_rejected() -> None:
    settings = load_settings(conduit_env="testing", secret_key="k" * 64)
    hs512 = jwt.encode(claims(settings), settings.secret_key, algorithm="HS512")
    assert rejected(Tokens(settings), hs512) == ["is invalid"]


def test_expired_token(settings: Settings, tokens: Tokens) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    expired = jwt.encode(
        claims(settings, iat=past, exp=past + timedelta(hours=1)), settings.secret_key, algorithm=ALGORITHM
    )
    assert rejected(tokens, expired) == ["has expired"]


def test_wrong_issuer(settings: Settings, tokens: Tokens) -> None:
    token = jwt.encode(claims(settings, iss="someone-else"), settings.secret_key, algorithm=ALGORITHM)
    assert rejected(tokens, token) == ["is invalid"]


@pytest.mark.parametrize("missing", ["sub", "iss", "exp", "iat"])
def test_missing_claim(settings: Settings, tokens: Tokens, missing: str) -> None:
    values = claims(settings)
    del values[missing]
    token = jwt.encode(values, settings.secret_key, algorithm=ALGORITHM)
    assert rejected(tokens, token) == ["is invalid"]


@pytest.mark.parametrize("subject", ["abc", "-1", "1.5", "", " 7", "7 ", "0x1", "\u00b2", "\u0667", 7, ["7"]])
def test_non_numeric_subject(settings: Settings, tokens: Tokens, subject: object) -> None:
    token = jwt.encode(claims(settings, sub=subject), settings.secret_key, algorithm=ALGORITHM)
    assert rejected(tokens, token) == ["is invalid"]


@pytest.mark.parametrize("token", ["garbage", "", "a.b.c", "e30.e30.", "e30.e30.e30"])
def test_malformed_token(tokens: Tokens, token: str) -> None:
    assert rejected(tokens, token) == ["is invalid"]
