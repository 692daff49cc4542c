"""Roles: moderators may delete any comment, administrators may change and delete any article."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from conduit.settings import ConfigError
from conduit.storage.database import get_db
from conduit.users.models import Permission, Role, User
from tests.support.accounts import Account, create_article, register
from tests.support.databases import make_app

FORBIDDEN_ARTICLE = {"errors": {"article": ["forbidden"]}}


def role_of(app: Flask, username: str) -> str | None:
    with app.app_context(), get_db().standalone_session() as db:
        user = db.scalars(select(User).where(User.username == username)).one()
        return None if user.role is None else user.role.name


def set_role(app: Flask, account: Account, role_name: str) -> None:
    with app.app_context(), get_db().standalone_session() as db:
        user = db.scalars(select(User).where(User.username == account.username)).one()
        user.role = db.scalars(select(Role).where(Role.name == role_name)).one()
        db.commit()
    assert role_of(app, account.username) == role_name


def add_comment(client: FlaskClient, account: Account, slug: str) -> int:
    response = client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": "hi"}}, headers=account.headers
    )
    assert response.status_code == 201, response.get_json()
    comment_id: int = response.get_json()["comment"]["id"]
    return comment_id


def comment_ids(client: FlaskClient, slug: str) -> list[int]:
    return [comment["id"] for comment in client.get(f"/api/articles/{slug}/comments").get_json()["comments"]]


@pytest.fixture
def mallory(client: FlaskClient) -> Account:
    """A third account, to be promoted by the tests."""
    return register(client, "mallory")


def test_the_three_roles_exist_after_a_reset(app: Flask) -> None:
    with app.app_context(), get_db().standalone_session() as db:
        roles = {role.name: role for role in db.scalars(select(Role))}

    assert set(roles) == {"Reader", "User", "Moderator", "Administrator"}
    assert [name for name, role in roles.items() if role.default] == ["User"]
    assert not roles["User"].has(Permission.MODERATE)
    assert roles["Moderator"].has(Permission.MODERATE)
    assert not roles["Moderator"].has(Permission.ADMIN)
    assert roles["Administrator"].has(Permission.ADMIN | Permission.MODERATE)


def test_a_new_account_gets_the_default_role(app: Flask, alice: Account) -> None:
    assert role_of(app, "alice") == "User"


def test_a_moderator_may_delete_another_users_comment(
    app: Flask, client: FlaskClient, alice: Account, bob: Account, mallory: Account
) -> None:
    slug = create_article(client, alice)["slug"]
    comment_id = add_comment(client, bob, slug)
    set_role(app, mallory, "Moderator")

    response = client.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=mallory.headers)

    assert response.status_code == 204
    assert comment_ids(client, slug) == []


def test_a_user_may_not_delete_another_users_comment(
    client: FlaskClient, alice: Account, bob: Account, mallory: Account
) -> None:
    """Control for the moderator test: the role, not the account, makes the difference."""
    slug = create_article(client, alice)["slug"]
    comment_id = add_comment(client, bob, slug)

    response = client.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=mallory.headers)

    assert response.status_code == 403
    assert comment_ids(client, slug) == [comment_id]


def test_a_moderator_may_not_edit_or_delete_another_users_article(
    app: Flask, client: FlaskClient, alice: Account, mallory: Account
) -> None:
    slug = create_article(client, alice)["slug"]
    set_role(app, mallory, "Moderator")

    edit = client.put(
        f"/api/articles/{slug}", json={"article": {"body": "moderated"}}, headers=mallory.headers
    )
    delete = client.delete(f"/api/articles/{slug}", headers=mallory.headers)

    assert (edit.status_code, edit.get_json()) == (403, FORBIDDEN_ARTICLE)
    assert (delete.status_code, delete.get_json()) == (403, FORBIDDEN_ARTICLE)
    assert client.get(f"/api/articles/{slug}").get_json()["article"]["body"] == "The body"


def test_an_administrator_may_edit_and_delete_another_users_article(
    app: Flask, client: FlaskClient, alice: Account, bob: Account, mallory: Account
) -> None:
    slug = create_article(client, alice)["slug"]
    comment_id = add_comment(client, bob, slug)
    set_role(app, mallory, "Administrator")

    edit = client.put(
        f"/api/articles/{slug}", json={"article": {"body": "administered"}}, headers=mallory.headers
    )
    assert edit.status_code == 200
    assert edit.get_json()["article"]["body"] == "administered"
    assert edit.get_json()["article"]["author"]["username"] == "alice", "the author stays the same"

    assert (
        client.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=mallory.headers).status_code
        == 204
    )
    assert client.delete(f"/api/articles/{slug}", headers=mallory.headers).status_code == 204
    assert client.get(f"/api/articles/{slug}").status_code == 404


def test_the_admin_email_setting_is_refused(database_url: str) -> None:
    """Issue 14, finding 1: CONDUIT_ADMIN_EMAIL made whoever registered that address an administrator."""
    with pytest.raises(ConfigError, match=r"^CONDUIT_ADMIN_EMAIL: .*create-admin"):
        make_app(database_url, conduit_admin_email="Boss@Example.com")
    make_app(database_url, conduit_admin_email=" ")  # blank is unset (compose passes an empty value)


def test_no_registration_or_email_change_grants_a_role(app: Flask, client: FlaskClient) -> None:
    boss = register(client, "boss", email="admin@example.com")
    eve = register(client, "eve")
    changed = client.put("/api/user", json={"user": {"email": "root@example.com"}}, headers=eve.headers)
    assert changed.status_code == 200
    assert (role_of(app, "boss"), role_of(app, "eve")) == ("User", "User")
    slug = create_article(client, eve)["slug"]
    assert client.delete(f"/api/articles/{slug}", headers=boss.headers).status_code == 403


def test_without_the_setting_that_email_is_an_ordinary_user(app: Flask, client: FlaskClient) -> None:
    register(client, "boss", email="boss@example.com")

    assert role_of(app, "boss") == "User"


def test_a_reader_may_read_but_not_write_comment_or_follow(
    app: Flask, client: FlaskClient, alice: Account, mallory: Account
) -> None:
    """Issue 14, finding 10: the FOLLOW, COMMENT and WRITE bits are enforced, so a read-only (banned) role
    exists: each refused action is a 403 in the spec's error shape, before the body is looked at."""
    slug = create_article(client, alice, "Readable")["slug"]
    set_role(app, mallory, "Reader")
    refused = {
        "write": client.post("/api/articles", json={"article": {}}, headers=mallory.headers),
        "comment": client.post(f"/api/articles/{slug}/comments", json={}, headers=mallory.headers),
        "follow": client.post("/api/profiles/alice/follow", headers=mallory.headers),
        "favorite": client.post(f"/api/articles/{slug}/favorite", headers=mallory.headers),
    }
    for action, response in refused.items():
        assert response.status_code == 403, (action, response.get_json())
        assert list(response.get_json()) == ["errors"]
        assert response.get_json()["errors"]["permission"][0].startswith("your role may not ")
    assert client.get(f"/api/articles/{slug}", headers=mallory.headers).status_code == 200
    assert client.get("/api/user", headers=mallory.headers).status_code == 200
    assert client.get("/api/articles/feed", headers=mallory.headers).status_code == 200
    # back to the default role, the same account may act again
    set_role(app, mallory, "User")
    assert client.post("/api/profiles/alice/follow", headers=mallory.headers).status_code == 200
