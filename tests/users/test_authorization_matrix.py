"""Every mutating endpoint x every kind of caller -> the status the API must answer.

The world of each case: ``owner`` wrote an article and commented on it; ``another`` is an ordinary
account; ``moderator`` and ``administrator`` hold those roles (moderators may delete any comment,
administrators may also change and delete any article: docs/decisions.md, "Roles")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from conduit.storage.database import get_db
from conduit.users.models import Role, User
from tests.support.accounts import Account, create_article, register

CALLERS = ("anonymous", "another", "owner", "moderator", "administrator")


@dataclass
class World:
    accounts: dict[str, Account]
    slug: str
    comment_id: int


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: Callable[[World], str]
    body: Callable[[str], dict[str, Any] | None]
    #: The status for each caller, in the order of CALLERS.
    expected: tuple[int, int, int, int, int]


def no_body(_: str) -> None:
    return None


ENDPOINTS: dict[str, Endpoint] = {
    "register": Endpoint(
        "POST",
        lambda w: "/api/users",
        lambda c: {
            "user": {"username": f"new-{c}", "email": f"new-{c}@example.com", "password": "password123"}
        },
        (201, 201, 201, 201, 201),
    ),
    "login": Endpoint(
        "POST",
        lambda w: "/api/users/login",
        lambda c: {"user": {"email": "owner@example.com", "password": "password123"}},
        (200, 200, 200, 200, 200),
    ),
    "update user": Endpoint(
        "PUT", lambda w: "/api/user", lambda c: {"user": {"bio": f"I am {c}"}}, (401, 200, 200, 200, 200)
    ),
    "follow": Endpoint("POST", lambda w: "/api/profiles/owner/follow", no_body, (401, 200, 422, 200, 200)),
    "unfollow": Endpoint(
        "DELETE", lambda w: "/api/profiles/owner/follow", no_body, (401, 200, 200, 200, 200)
    ),
    "create article": Endpoint(
        "POST",
        lambda w: "/api/articles",
        lambda c: {"article": {"title": f"By {c}", "description": "d", "body": "b"}},
        (401, 201, 201, 201, 201),
    ),
    "update article": Endpoint(
        "PUT",
        lambda w: f"/api/articles/{w.slug}",
        lambda c: {"article": {"body": f"edited by {c}"}},
        (401, 403, 200, 403, 200),
    ),
    "delete article": Endpoint(
        "DELETE", lambda w: f"/api/articles/{w.slug}", no_body, (401, 403, 204, 403, 204)
    ),
    "favorite": Endpoint(
        "POST", lambda w: f"/api/articles/{w.slug}/favorite", no_body, (401, 200, 200, 200, 200)
    ),
    "unfavorite": Endpoint(
        "DELETE", lambda w: f"/api/articles/{w.slug}/favorite", no_body, (401, 200, 200, 200, 200)
    ),
    "add comment": Endpoint(
        "POST",
        lambda w: f"/api/articles/{w.slug}/comments",
        lambda c: {"comment": {"body": f"from {c}"}},
        (401, 201, 201, 201, 201),
    ),
    "delete comment": Endpoint(
        "DELETE",
        lambda w: f"/api/articles/{w.slug}/comments/{w.comment_id}",
        no_body,
        (401, 403, 204, 204, 204),
    ),
}

CASES = [
    pytest.param(name, caller, endpoint.expected[index], id=f"{name}-{caller}")
    for name, endpoint in ENDPOINTS.items()
    for index, caller in enumerate(CALLERS)
]


def give_role(app: Flask, username: str, role_name: str) -> None:
    with app.app_context(), get_db().standalone_session() as db:
        user = db.scalars(select(User).where(User.username == username)).one()
        user.role = db.scalars(select(Role).where(Role.name == role_name)).one()
        db.commit()


@pytest.fixture
def world(app: Flask, client: FlaskClient) -> World:
    accounts = {name: register(client, name) for name in CALLERS if name != "anonymous"}
    give_role(app, "moderator", "Moderator")
    give_role(app, "administrator", "Administrator")
    slug = create_article(client, accounts["owner"], title="The owner's article")["slug"]
    response = client.post(
        f"/api/articles/{slug}/comments",
        json={"comment": {"body": "mine"}},
        headers=accounts["owner"].headers,
    )
    assert response.status_code == 201
    return World(accounts, slug, response.get_json()["comment"]["id"])


def test_the_matrix_covers_every_mutating_endpoint(app: Flask) -> None:
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in (rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}
    }
    sample = World({}, "<slug>", 0)
    covered = {
        (e.method, e.path(sample).replace("/0", "/<id>").replace("owner", "<username>"))
        for e in ENDPOINTS.values()
    }
    assert routes == covered


@pytest.mark.parametrize(("endpoint", "caller", "expected"), CASES)
def test_authorization(client: FlaskClient, world: World, endpoint: str, caller: str, expected: int) -> None:
    spec = ENDPOINTS[endpoint]
    account = world.accounts.get(caller)
    headers = account.headers if account else {}
    response = client.open(spec.path(world), method=spec.method, json=spec.body(caller), headers=headers)
    assert response.status_code == expected, response.get_json()
    if expected == 401:
        assert response.get_json() == {"errors": {"token": ["is missing"]}}
    if expected == 403:
        assert set(response.get_json()["errors"]) <= {"article", "comment"}
