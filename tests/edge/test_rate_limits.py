"""Rate limits in one app: the global API limit, login and registration per address and per account,
the exempt networks, the 429 body, and failing open when Redis is down. Through nginx and two servers:
tests/integration/test_rate_limits.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.databases import get_db_of, make_app
from tests.support.redis_server import closed_port_url, own_keys, redis_url_or_skip

CLIENT = "203.0.113.5"
OTHER = "198.51.100.7"
GENEROUS = "1000/minute"


@pytest.fixture
def build(sqlite_url: str) -> Iterator[Any]:
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        limits = {
            "rate_limit_exempt": [],
            "rate_limit_api": GENEROUS,
            "rate_limit_login_ip": GENEROUS,
            "rate_limit_login_account": GENEROUS,
            "rate_limit_login_account_address": GENEROUS,
            "rate_limit_register_ip": GENEROUS,
            "rate_limit_register_account": GENEROUS,
        }
        application = make_app(sqlite_url, **{**limits, **overrides})
        apps.append(application)
        return application

    yield factory
    for application in apps:
        get_db_of(application).dispose()


def client_from(application: Flask, address: str = CLIENT) -> FlaskClient:
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def signup(client: FlaskClient, name: str, email: str | None = None) -> int:
    body = {"user": {"username": name, "email": email or f"{name}@example.com", "password": "password123"}}
    return client.post("/api/users", json=body).status_code


def login(client: FlaskClient, email: str, password: str = "password123") -> int:
    return client.post("/api/users/login", json={"user": {"email": email, "password": password}}).status_code


def assert_too_many(response: Any) -> None:
    assert response.status_code == 429
    errors = response.get_json()["errors"]
    assert list(errors) == ["rate_limit"]
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert errors["rate_limit"] == [f"too many requests; retry in {retry} seconds"]


def test_the_global_limit_counts_every_api_request_of_an_address(build: Any) -> None:
    application = build(rate_limit_api="3/minute")
    client = client_from(application)
    assert [client.get(path).status_code for path in ("/api/tags", "/api/articles", "/api/tags")] == [200] * 3
    assert_too_many(client.get("/api/articles"))
    assert_too_many(client.post("/api/users/login", json={}))

    assert client_from(application, OTHER).get("/api/tags").status_code == 200
    assert client.get("/healthz").status_code == 200  # probes are not API requests


def test_login_is_limited_per_address(build: Any) -> None:
    client = client_from(build(rate_limit_login_ip="2/minute"))
    assert [login(client, f"nobody{n}@example.com") for n in range(2)] == [401, 401]
    assert login(client, "nobody9@example.com") == 429
    assert client.get("/api/tags").status_code == 200  # only the login endpoint is limited
    assert signup(client, "carol") == 201


def test_wrong_passwords_from_elsewhere_never_lock_the_owner_out(build: Any) -> None:
    """Issue 14, finding 6: ten wrong passwords for the victim from other addresses, then the owner logs
    in from a fresh address: 200. The account-wide count only makes each address's budget strict."""
    application = build(rate_limit_login_account="5/minute", rate_limit_login_account_address="3/minute")
    assert signup(client_from(application), "dave") == 201
    attackers = [client_from(application, f"192.0.2.{n}") for n in range(1, 11)]
    assert [login(client, "dave@example.com", "wrong-password") for client in attackers] == [401] * 10
    # the account is under attack: an address that already failed on it gets no second guess ...
    assert login(attackers[0], "DAVE@example.com ", "wrong-password") == 429
    assert login(attackers[9], "dave@example.com") == 429
    # ... while the owner, from an address of their own, logs in
    assert login(client_from(application, "198.51.100.200"), "dave@example.com") == 200
    # and other accounts are not affected
    assert login(attackers[0], "erin@example.com") == 401


def test_failed_logins_are_limited_per_account_and_address(build: Any) -> None:
    application = build(rate_limit_login_account_address="2/minute")
    assert signup(client_from(application), "ivan") == 201
    guesser = client_from(application, "192.0.2.50")
    assert [login(guesser, "ivan@example.com", "wrong-password") for _ in range(2)] == [401, 401]
    assert login(guesser, "ivan@example.com", "wrong-password") == 429
    assert login(guesser, "nobody@example.com", "wrong-password") == 401  # another account: its own budget
    assert login(client_from(application, "192.0.2.51"), "ivan@example.com") == 200


def test_successful_logins_spend_no_failure_budget(build: Any) -> None:
    application = build(rate_limit_login_account_address="1/minute", rate_limit_login_account="1/minute")
    client = client_from(application)
    assert signup(client, "judy") == 201
    assert [login(client, "judy@example.com") for _ in range(3)] == [200] * 3


def test_registration_is_limited_per_address_and_per_email(build: Any) -> None:
    per_address = client_from(build(rate_limit_register_ip="2/minute"))
    assert [signup(per_address, "frank"), signup(per_address, "grace")] == [201, 201]
    assert signup(per_address, "heidi") == 429
    assert login(per_address, "frank@example.com") == 200

    application = build(rate_limit_register_account="2/minute")
    statuses = [
        signup(client_from(application, f"192.0.2.{n}"), f"ivan{n}", "ivan@example.com") for n in (1, 2, 3)
    ]
    assert statuses == [201, 409, 429]
    assert signup(client_from(application, "192.0.2.4"), "judy") == 201


def test_exempt_networks_are_never_limited(build: Any) -> None:
    application = build(rate_limit_api="1/minute", rate_limit_exempt=["10.0.0.0/8"])
    inside = client_from(application, "10.1.2.3")
    assert {inside.get("/api/tags").status_code for _ in range(3)} == {200}
    outside = client_from(application, "11.1.2.3")
    assert outside.get("/api/tags").status_code == 200
    assert outside.get("/api/tags").status_code == 429


def test_loopback_is_exempt_by_default(sqlite_url: str) -> None:
    application = make_app(sqlite_url, rate_limit_api="1/minute")
    try:
        client = client_from(application, "127.0.0.1")
        assert {client.get("/api/tags").status_code for _ in range(3)} == {200}
        assert client_from(application).get("/api/tags").status_code == 200
        assert client_from(application).get("/api/tags").status_code == 429
    finally:
        get_db_of(application).dispose()


def test_disabled_limits_refuse_nothing(build: Any) -> None:
    client = client_from(build(rate_limit_api="1/minute", rate_limit_enabled=False))
    assert {client.get("/api/tags").status_code for _ in range(3)} == {200}


def test_redis_down_fails_open_to_per_worker_counters(build: Any) -> None:
    application = build(rate_limit_api="2/minute", redis_url=closed_port_url())
    client = client_from(application)
    assert [client.get("/api/tags").status_code for _ in range(2)] == [200, 200]
    assert_too_many(client.get("/api/tags"))


def test_counters_in_redis_are_shared_by_every_app(build: Any) -> None:
    url = redis_url_or_skip()
    with own_keys(url) as (redis_client, prefix):
        first, second = (
            build(rate_limit_api="3/minute", redis_url=url, redis_key_prefix=prefix) for _ in range(2)
        )
        assert client_from(first).get("/api/tags").status_code == 200
        assert client_from(second).get("/api/tags").status_code == 200
        assert client_from(first).get("/api/tags").status_code == 200
        assert_too_many(client_from(second).get("/api/tags"))
        keys = [key.decode() for key in redis_client.scan_iter(match=prefix + "limits:*")]
        assert keys == [prefix + "limits:{LIMITER/" + CLIENT + "/global/3/1/minute}"]


def token_of(client: FlaskClient, name: str) -> dict[str, str]:
    body = {"user": {"username": name, "email": f"{name}@example.com", "password": "password123"}}
    response = client.post("/api/users", json=body)
    assert response.status_code == 201
    return {"Authorization": f"Token {response.get_json()['user']['token']}"}


def test_expensive_reads_use_more_of_the_global_limit(build: Any) -> None:
    application = build(rate_limit_api="10/minute", rate_limit_expensive_read_cost=5)
    filtered, deep = client_from(application), client_from(application, OTHER)
    # A filter by name, even an unknown one, weighs 5: two of them spend the 10 units.
    assert [filtered.get("/api/articles?favorited=nobody").status_code for _ in range(2)] == [200, 200]
    assert_too_many(filtered.get("/api/articles?tag=nothing"))
    assert_too_many(filtered.get("/api/tags"))
    # A deep page weighs 5 too; plain pages weigh 1 each.
    assert deep.get("/api/articles?offset=5000").status_code == 200
    assert [deep.get("/api/articles").status_code for _ in range(5)] == [200] * 5
    assert_too_many(deep.get("/api/articles?offset=1000"))


def test_writes_are_limited_per_account_whatever_the_address(build: Any) -> None:
    application = build(rate_limit_articles_user="2/minute", rate_limit_comments_user="3/minute")
    alice = token_of(client_from(application), "alice")
    bob = token_of(client_from(application), "bob")
    article = {"article": {"title": "T", "description": "D", "body": "B"}}
    statuses = [
        client_from(application, f"192.0.2.{n}")
        .post("/api/articles", json=article, headers=alice)
        .status_code
        for n in range(1, 4)
    ]
    assert statuses == [201, 201, 429]
    slug = (
        client_from(application)
        .post("/api/articles", json=article, headers=bob)
        .get_json()["article"]["slug"]
    )
    comment = {"comment": {"body": "Hello"}}
    statuses = [
        client_from(application, f"192.0.2.{n}")
        .post(f"/api/articles/{slug}/comments", json=comment, headers=alice)
        .status_code
        for n in range(1, 5)
    ]
    assert statuses == [201, 201, 201, 429]
    # bob's allowance is his own; reading is not a write
    assert (
        client_from(application).post(f"/api/articles/{slug}/comments", json=comment, headers=bob).status_code
        == 201
    )
    assert client_from(application).get(f"/api/articles/{slug}/comments").status_code == 200


def test_a_resolved_limit_applies_to_its_requests_only_and_is_parsed_once() -> None:
    from conduit.edge.rate_limits import ResolvedApplicationLimit, ResolvedLimit

    application = Flask(__name__)
    login = ResolvedLimit(
        "5/minute;20/hour",
        key_function=lambda: "k",
        exempt_when=lambda: False,
        methods=["POST"],
        finalized=True,
    )
    api = ResolvedApplicationLimit(
        "600/minute", key_function=lambda: "k", exempt_when=lambda: False, finalized=True
    )
    outside = [str(limit.limit) for limit in login]  # outside a request: everything, as Flask-Limiter's
    assert outside == ["5 per 1 minute", "20 per 1 hour"]
    with application.test_request_context("/api/users/login", method="GET"):
        assert list(login) == []  # a GET: the POST-only limit has nothing to check
        assert [str(limit.limit) for limit in api] == ["600 per 1 minute"]
    with application.test_request_context("/api/users/login", method="POST"):
        first, second = list(login), list(login)
        assert [str(limit.limit) for limit in first] == ["5 per 1 minute", "20 per 1 hour"]
        assert all(a is b for a, b in zip(first, second, strict=True))
    exempt = ResolvedLimit("1/minute", exempt_when=lambda: True, finalized=True)
    with application.test_request_context("/", method="POST"):
        assert list(exempt) == []
    moving = ResolvedLimit(lambda: "1/minute", finalized=True)
    with pytest.raises(TypeError), application.test_request_context("/", method="POST"):
        list(moving)
