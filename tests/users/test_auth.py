"""Authentication end to end: the pinned algorithm, expiry, revocation on a password change, and the
login that spends the same work whether or not the account exists."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient

from conduit.security import Passwords
from tests.support.accounts import Account


def me(client: FlaskClient, token: str) -> tuple[int, Any]:
    response = client.get("/api/user", headers={"Authorization": f"Token {token}"})
    return response.status_code, response.get_json()


def login(client: FlaskClient, email: str, password: str) -> str:
    response = client.post("/api/users/login", json={"user": {"email": email, "password": password}})
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["user"]["token"]
    return token


def change_password(client: FlaskClient, token: str, password: str) -> int:
    response = client.put(
        "/api/user", json={"user": {"password": password}}, headers={"Authorization": f"Token {token}"}
    )
    return response.status_code


def payload_of(app: Flask, token: str) -> dict[str, Any]:
    settings = app.extensions["conduit.settings"]
    decoded: dict[str, Any] = jwt.decode(token, settings.secret_key, algorithms=["HS256"], issuer="conduit")
    return decoded


def test_a_password_change_revokes_every_other_token(client: FlaskClient, alice: Account) -> None:
    older = login(client, alice.email, alice.password)
    changer = login(client, alice.email, alice.password)
    newer = login(client, alice.email, alice.password)  # issued after the changer, before the change
    assert change_password(client, changer, "new-password-1") == 200

    assert me(client, alice.token) == (401, {"errors": {"token": ["is invalid"]}})
    assert me(client, older)[0] == 401
    assert me(client, newer)[0] == 401
    assert me(client, changer)[0] == 200  # the session that changed the password goes on

    fresh = login(client, alice.email, "new-password-1")
    assert me(client, fresh)[0] == 200


def test_the_changing_token_may_change_the_password_again(client: FlaskClient, alice: Account) -> None:
    # What the official errors_auth.hurl does: two changes with the registration token, both 200.
    assert change_password(client, alice.token, "bonjour1") == 200
    assert change_password(client, alice.token, "a" * 64) == 200
    assert me(client, alice.token)[0] == 200
    fresh = login(client, alice.email, "a" * 64)
    assert change_password(client, fresh, "third-password") == 200
    assert me(client, alice.token)[0] == 401  # another session changed it: the old keeper is revoked
    assert me(client, fresh)[0] == 200


def test_other_changes_revoke_nothing(client: FlaskClient, alice: Account) -> None:
    other = login(client, alice.email, alice.password)
    response = client.put(
        "/api/user", json={"user": {"bio": "hi", "email": "a2@example.com"}}, headers=alice.headers
    )
    assert response.status_code == 200
    assert me(client, other)[0] == 200


def test_tokens_carry_the_version_and_a_unique_id(app: Flask, client: FlaskClient, alice: Account) -> None:
    first = payload_of(app, alice.token)
    second = payload_of(app, login(client, alice.email, alice.password))
    assert first["ver"] == second["ver"] == 0
    assert len(first["jti"]) == 32
    assert first["jti"] != second["jti"]
    assert change_password(client, alice.token, "new-password-1") == 200
    assert payload_of(app, login(client, alice.email, "new-password-1"))["ver"] == 1


def forge(app: Flask, token: str, **changes: Any) -> str:
    settings = app.extensions["conduit.settings"]
    claims = {**payload_of(app, token), **changes}
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, settings.secret_key, algorithm="HS256"
    )


def test_a_token_without_version_or_id_counts_as_issued_before_any_change(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    legacy = forge(app, alice.token, ver=None, jti=None)
    assert me(client, legacy)[0] == 200
    assert change_password(client, login(client, alice.email, alice.password), "new-password-1") == 200
    assert me(client, legacy)[0] == 401


@pytest.mark.parametrize("changes", [{"ver": "0"}, {"ver": 0.0}, {"ver": True}, {"jti": 7}, {"ver": 1}])
def test_malformed_or_future_versions_are_invalid(
    app: Flask, client: FlaskClient, alice: Account, changes: dict[str, Any]
) -> None:
    assert me(client, forge(app, alice.token, **changes)) == (401, {"errors": {"token": ["is invalid"]}})


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_unsigned_and_foreign_algorithm_tokens_are_refused(
    app: Flask, client: FlaskClient, alice: Account
) -> None:
    claims = payload_of(app, alice.token)
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert me(client, unsigned)[0] == 401
    for alg in ("None", "NONE"):
        assert me(client, f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}.")[0] == 401

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert me(client, jwt.encode(claims, key, algorithm="RS256"))[0] == 401
    # Key confusion: HS256 signed with a public key the server might mistake for its secret.
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64({"alg": "HS256", "typ": "JWT"})
    body = f"{header}.{b64(claims)}"
    signature = hmac.new(public, body.encode(), hashlib.sha256).digest()
    confused = body + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    assert me(client, confused)[0] == 401
    settings = app.extensions["conduit.settings"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT finds the key short for HS512: the point is the algorithm
        hs512 = jwt.encode(claims, settings.secret_key, algorithm="HS512")
    assert me(client, hs512)[0] == 401
    assert me(client, alice.token)[0] == 200


def test_an_expired_token_is_refused(app: Flask, client: FlaskClient, alice: Account) -> None:
    past = datetime.now(UTC) - timedelta(days=8)
    expired = forge(app, alice.token, iat=past, exp=past + timedelta(days=7))
    assert me(client, expired) == (401, {"errors": {"token": ["has expired"]}})
    just_valid = forge(app, alice.token, exp=datetime.now(UTC) + timedelta(seconds=30))
    assert me(client, just_valid)[0] == 200


def test_login_of_an_unknown_account_runs_the_hasher(
    app: Flask, client: FlaskClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher: Passwords = app.extensions["conduit.passwords"]
    calls: list[str] = []
    real_verify = type(hasher.hasher).verify

    def spy(self: Any, password_hash: str, password: str) -> Any:
        calls.append(password_hash)
        return real_verify(self, password_hash, password)

    monkeypatch.setattr(type(hasher.hasher), "verify", spy)
    for email in ("nobody@example.com", alice.email):
        response = client.post(
            "/api/users/login", json={"user": {"email": email, "password": "wrong-password"}}
        )
        assert response.status_code == 401
        assert response.get_json() == {"errors": {"credentials": ["invalid"]}}
    assert len(calls) == 2
    unknown, known = calls
    assert unknown.startswith("$argon2id$")
    assert f"m={app.extensions['conduit.settings'].argon2_memory_kib}," in unknown  # the same cost
    assert unknown.split("$")[3] == known.split("$")[3]
