"""Profiles and follows (Hurl: profiles.hurl, errors_profiles.hurl)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.accounts import Account

NOT_FOUND = {"errors": {"profile": ["not found"]}}
CountQueries = Callable[[], Any]


def get_profile(client: FlaskClient, username: str, viewer: Account | None = None) -> TestResponse:
    return client.get(f"/api/profiles/{username}", headers=viewer.headers if viewer else {})


def follow(client: FlaskClient, viewer: Account, username: str) -> TestResponse:
    return client.post(f"/api/profiles/{username}/follow", headers=viewer.headers)


def unfollow(client: FlaskClient, viewer: Account, username: str) -> TestResponse:
    return client.delete(f"/api/profiles/{username}/follow", headers=viewer.headers)


def profile_of(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    profile: dict[str, Any] = response.get_json()["profile"]
    return profile


def following(client: FlaskClient, viewer: Account, username: str) -> bool:
    return bool(profile_of(get_profile(client, username, viewer))["following"])


def bobs_profile(is_followed: bool, **changes: Any) -> dict[str, Any]:
    return {"username": "bob", "bio": None, "image": None, "following": is_followed, **changes}


def test_get_profile_without_auth(client: FlaskClient, bob: Account) -> None:
    assert profile_of(get_profile(client, "bob")) == bobs_profile(False)


def test_get_profile_with_auth_when_not_following(client: FlaskClient, alice: Account, bob: Account) -> None:
    assert profile_of(get_profile(client, "bob", alice)) == bobs_profile(False)


def test_profile_shows_bio_and_image(client: FlaskClient, bob: Account) -> None:
    changes = {"bio": "Builder", "image": "https://example.com/bob.png"}
    assert client.put("/api/user", json={"user": changes}, headers=bob.headers).status_code == 200

    assert profile_of(get_profile(client, "bob")) == bobs_profile(False, **changes)


def test_follow_returns_the_profile_and_sets_the_flag(
    client: FlaskClient, alice: Account, bob: Account
) -> None:
    assert profile_of(follow(client, alice, "bob")) == bobs_profile(True)

    assert following(client, alice, "bob")
    assert not profile_of(get_profile(client, "bob"))["following"], "anonymous viewers follow nobody"


def test_following_is_one_way_and_per_viewer(client: FlaskClient, alice: Account, bob: Account) -> None:
    profile_of(follow(client, alice, "bob"))

    assert not following(client, bob, "alice")
    assert not following(client, bob, "bob")


def test_follow_twice_is_the_same_as_once(client: FlaskClient, alice: Account, bob: Account) -> None:
    profile_of(follow(client, alice, "bob"))

    assert profile_of(follow(client, alice, "bob")) == bobs_profile(True)
    assert profile_of(unfollow(client, alice, "bob")) == bobs_profile(False)
    assert not following(client, alice, "bob"), "one unfollow undoes any number of follows"


def test_unfollow_clears_the_flag(client: FlaskClient, alice: Account, bob: Account) -> None:
    profile_of(follow(client, alice, "bob"))

    assert profile_of(unfollow(client, alice, "bob")) == bobs_profile(False)
    assert not following(client, alice, "bob")


def test_unfollow_when_not_following_is_a_no_op(client: FlaskClient, alice: Account, bob: Account) -> None:
    assert profile_of(unfollow(client, alice, "bob")) == bobs_profile(False)
    assert profile_of(unfollow(client, alice, "bob")) == bobs_profile(False)


def test_follow_self_is_422(client: FlaskClient, alice: Account) -> None:
    response = follow(client, alice, "alice")

    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["profile"]
    assert not following(client, alice, "alice")


def test_unknown_profile_is_404(client: FlaskClient, alice: Account) -> None:
    for response in (
        get_profile(client, "nobody"),
        get_profile(client, "nobody", alice),
        follow(client, alice, "nobody"),
        unfollow(client, alice, "nobody"),
    ):
        assert (response.status_code, response.get_json()) == (404, NOT_FOUND)


def test_usernames_are_matched_exactly(client: FlaskClient, bob: Account) -> None:
    response = get_profile(client, "BOB")
    assert (response.status_code, response.get_json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_follow_and_unfollow_need_a_token(client: FlaskClient, bob: Account, method: str) -> None:
    response = client.open("/api/profiles/bob/follow", method=method)

    assert (response.status_code, response.get_json()) == (401, {"errors": {"token": ["is missing"]}})


def test_get_profile_with_an_invalid_token_is_401(client: FlaskClient, bob: Account) -> None:
    response = client.get("/api/profiles/bob", headers={"Authorization": "Token not-a-token"})

    assert (response.status_code, response.get_json()) == (401, {"errors": {"token": ["is invalid"]}})


def statements_of(
    client: FlaskClient, count_queries: CountQueries, url: str, viewer: Account | None, status: int
) -> int:
    with count_queries() as statements:
        response = get_profile(client, url, viewer)
    assert response.status_code == status, (url, response.get_json())
    return len(statements)


@pytest.mark.parametrize("viewer_name", ["alice", None])
def test_a_profile_is_one_statement_with_its_following_flag(
    client: FlaskClient, count_queries: CountQueries, alice: Account, bob: Account, viewer_name: str | None
) -> None:
    """The account and the viewer's ``following`` flag are one statement, found or not; a token adds only
    its own check (what a request refused before its view reads anything costs)."""
    viewer = alice if viewer_name else None
    profile_of(follow(client, alice, "bob"))
    token_check = statements_of(client, count_queries, "x" * 256, viewer, 422)
    for username, status in (("bob", 200), ("alice", 200), ("nobody", 404)):
        assert statements_of(client, count_queries, username, viewer, status) == token_check + 1, username
    assert following(client, alice, "bob") is True
