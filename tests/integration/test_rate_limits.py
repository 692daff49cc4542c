"""Rate limits through nginx and two gunicorn instances (two workers each) sharing Redis: the counters
are shared, the client is the real one (nginx's X-Forwarded-For, PROXY_TRUSTED_HOPS=1), and a 429
reaches the client as JSON with Retry-After and the security headers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from conduit.edge.headers import API_POLICY, UI_POLICY
from tests.conftest import postgres_database
from tests.integration.support import free_port, wait_until
from tests.integration.test_stack import Answer, Stack, require_nginx, stack_env, started_stack
from tests.redis_support import own_keys, redis_url_or_skip

pytestmark = pytest.mark.slow

API_LIMIT = 12
ACCOUNT_LIMIT = 3


@pytest.fixture(scope="module")
def stack(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
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


def test_the_api_limit_is_shared_by_both_servers(stack: Stack) -> None:
    client = "127.0.0.11"
    statuses = [stack.request("GET", "/api/tags", source=client).status for _ in range(API_LIMIT)]
    assert statuses == [200] * API_LIMIT

    refused = stack.request("GET", "/api/articles", source=client)
    assert refused.status == 429
    retry = int(refused.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert refused.json() == {"errors": {"rate_limit": [f"too many requests; retry in {retry} seconds"]}}
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.headers["X-Request-ID"]
    assert_security_headers(refused, API_POLICY)

    # Both servers answered some of the allowed requests: the count is not per server or per worker.
    def served(port: int) -> int:
        return sum(1 for line in stack.request_lines(port) if line["client_ip"] == client)

    wait_until(
        lambda: served(stack.app_ports[0]) + served(stack.app_ports[1]) >= API_LIMIT + 1, "request lines"
    )
    assert served(stack.app_ports[0]) > 0
    assert served(stack.app_ports[1]) > 0

    # Another client (another real address behind the same nginx) is not affected.
    assert stack.request("GET", "/api/tags", source="127.0.0.12").status == 200
    # A spoofed X-Forwarded-For does not make a new client.
    spoofed = stack.request("GET", "/api/tags", headers={"X-Forwarded-For": "203.0.113.9"}, source=client)
    assert spoofed.status == 429


def test_logins_are_limited_per_account_across_addresses(stack: Stack) -> None:
    body = json.dumps({"user": {"email": "victim@example.com", "password": "not-the-password"}}).encode()
    headers = {"Content-Type": "application/json"}
    statuses = [
        stack.request("POST", "/api/users/login", body, headers, source=f"127.0.0.{20 + n}").status
        for n in range(ACCOUNT_LIMIT + 1)
    ]
    assert statuses == [401] * ACCOUNT_LIMIT + [429]


def test_what_nginx_serves_itself_carries_the_security_headers(stack: Stack) -> None:
    page = stack.request("GET", "/", source="127.0.0.30")
    assert page.status in (200, 404)
    assert_security_headers(page, UI_POLICY)
    too_large = stack.request(
        "POST",
        "/api/articles",
        b"x" * (2 * 1024 * 1024),
        {"Content-Type": "application/json"},
        source="127.0.0.31",
    )
    assert too_large.status == 413
    assert_security_headers(too_large, API_POLICY)
    api = stack.request("GET", "/api/tags", source="127.0.0.32")
    assert_security_headers(api, API_POLICY)
