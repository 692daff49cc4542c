"""Accounts and articles made through the API, as a client makes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient


@dataclass
class Account:
    username: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


def register(
    client: FlaskClient, username: str, password: str = "password123", email: str | None = None
) -> Account:
    email = email or f"{username}@example.com"
    response = client.post(
        "/api/users", json={"user": {"username": username, "email": email, "password": password}}
    )
    assert response.status_code == 201, response.get_json()
    return Account(username, email, password, response.get_json()["user"]["token"])


def create_article(
    client: FlaskClient, account: Account, title: str = "Hello", tags: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    article = {"title": title, "description": "About it", "body": "The body", **fields}
    if tags is not None:
        article["tagList"] = tags
    response = client.post("/api/articles", json={"article": article}, headers=account.headers)
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()["article"]
    return result
