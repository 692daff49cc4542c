"""Rate limits through nginx and two gunicorn instances (two workers each) sharing Redis: the counters
are shared, the client is the real one (nginx's X-Forwarded-For, PROXY_TRUSTED_HOPS=1), and a 429
reaches the client as JSON with Retry-After and the security headers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from conduit.edge.headers import API_POLICY, UI_POLICY
from harness.net import free_port
from tests.support.databases import postgres_database
from tests.support.redis_server import own_keys, redis_url_or_skip
from tests.support.servers import wait_until
from tests.support.stack import Answer, Stack, require_nginx, stack_env, started_stack

pytestmark = pytest.mark.slow

API_LIMIT = 12
ACCOUNT_LIMIT = 3


@pytest.fixture(scope="module")
def limited_stack(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_nginx()
    redis_url = redis_url_or_skip()
    directory = tmp_path_factory.mktemp("limits")
    port, app_ports = free_port(), (free_port(), free_port())
    with postgres_database(pg_server_url) as database_url, own_keys(redis_url) as (_, prefix):
        env = stack_env(directory, port, app_ports, database_url)
        env.update(
            REDIS_URL=redis_url,
            REDIS_KEY_PREFIX=prefix,
            RATE_LIMIT_EXEMPT="",
            RATE_LIMIT_API=f"{API_LIMIT}/minute",
            RATE_LIMIT_LOGIN_ACCOUNT=f"{ACCOUNT_LIMIT}/minute",
        )
        with started_stack(directory, port, app_ports, env) as running:
            yield running


def assert_security_headers(answer: Answer, policy: str) -> None:
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers.get_all("Content-Security-Policy") == [policy]  # never doubled by nginx


def test_the_api_limit_is_shared_by_both_servers(limited_stack: Stack) -> None:
    client = "127.0.0.11"
    statuses = [limited_stack.request("GET", "/api/tags", source=client).status for _ in range(API_LIMIT)]
    assert statuses == [200] * API_LIMIT

    refused = limited_stack.request("GET", "/api/articles", source=client)
    assert refused.status == 429
    retry = int(refused.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert refused.json() == {"errors": {"rate_limit": [f"too many requests; retry in {retry} seconds"]}}
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.headers["X-Request-ID"]
    assert_security_headers(refused, API_POLICY)

    # Both servers answered some of the allowed requests: the count is not per server or per worker.
    def served(port: int) -> int:
        return sum(1 for line in limited_stack.request_lines(port) if line["client_ip"] == client)

    wait_until(
        lambda: served(limited_stack.app_ports[0]) + served(limited_stack.app_ports[1]) >= API_LIMIT + 1,
        "request lines",
    )
    assert served(limited_stack.app_ports[0]) > 0
    assert served(limited_stack.app_ports[1]) > 0

    # Another client (another real address behind the same nginx) is not affected.
    assert limited_stack.request("GET", "/api/tags", source="127.0.0.12").status == 200
    # A spoofed X-Forwarded-For does not make a new client.
    spoofed = limited_stack.request(
        "GET", "/api/tags", headers={"X-Forwarded-For": "203.0.113.9"}, source=client
    )
    assert spoofed.status == 429


def test_wrong_passwords_from_other_addresses_never_lock_the_owner_out(limited_stack: Stack) -> None:
    """Issue 14, finding 6, through nginx, two servers and Redis: guesses from many addresses spend the
    account-wide count, which refuses nobody; then each guessing address is refused on that account, on
    whichever server, and the owner logs in from a fresh address."""
    headers = {"Content-Type": "application/json"}

    def send(path: str, user: dict[str, str], source: str) -> int:
        body = json.dumps({"user": user}).encode()
        return limited_stack.request("POST", path, body, headers, source=source).status

    owner = {"username": "victim", "email": "victim@example.com", "password": "the-owners-password"}
    assert send("/api/users", owner, "127.0.0.19") == 201
    guess = {"email": "victim@example.com", "password": "not-the-password"}
    statuses = [send("/api/users/login", guess, f"127.0.0.{20 + n}") for n in range(ACCOUNT_LIMIT + 2)]
    assert statuses == [401] * (ACCOUNT_LIMIT + 2)
    assert send("/api/users/login", guess, "127.0.0.20") == 429
    assert send("/api/users/login", guess, "127.0.0.21") == 429
    assert (
        send("/api/users/login", {"email": owner["email"], "password": owner["password"]}, "127.0.0.40")
        == 200
    )


def test_what_nginx_serves_itself_carries_the_security_headers(limited_stack: Stack) -> None:
    page = limited_stack.request("GET", "/", source="127.0.0.30")
    assert page.status in (200, 404)
    assert_security_headers(page, UI_POLICY)
    too_large = limited_stack.request(
        "POST",
        "/api/articles",
        b"x" * (2 * 1024 * 1024),
        {"Content-Type": "application/json"},
        source="127.0.0.31",
    )
    assert too_large.status == 413
    assert_security_headers(too_large, API_POLICY)
    api = limited_stack.request("GET", "/api/tags", source="127.0.0.32")
    assert_security_headers(api, API_POLICY)
