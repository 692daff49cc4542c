"""PROXY_TRUSTED_HOPS: how many proxies' X-Forwarded-* headers the app believes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask, request

from tests.support.databases import get_db_of, make_app


@pytest.fixture
def whoami_app(database_url: str) -> Iterator[Callable[[int], Flask]]:
    made: list[Flask] = []

    def build(hops: int) -> Flask:
        # the forwarded host must be one the app serves (TRUSTED_HOSTS), as behind a real proxy
        app = make_app(
            database_url, proxy_trusted_hops=hops, trusted_hosts=["localhost", "conduit.example.com"]
        )

        @app.get("/_whoami")
        def whoami() -> dict[str, str]:
            return {"ip": request.remote_addr or "", "scheme": request.scheme, "host": request.host}

        made.append(app)
        return app

    yield build
    for app in made:
        get_db_of(app).dispose()


FORWARDED = {
    "X-Forwarded-For": "198.51.100.7, 203.0.113.9",  # a spoofed entry, then what nginx appended
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "conduit.example.com",
}


def test_without_trusted_proxies_forwarded_headers_are_ignored(whoami_app: Callable[[int], Flask]) -> None:
    client = whoami_app(0).test_client()
    seen = client.get("/_whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": "192.0.2.1"}).get_json()
    assert seen == {"ip": "192.0.2.1", "scheme": "http", "host": "localhost"}


def test_one_trusted_proxy_gives_the_address_it_appended(whoami_app: Callable[[int], Flask]) -> None:
    client = whoami_app(1).test_client()
    seen = client.get("/_whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    # the rightmost entry is the one nginx wrote; the client's own claim to the left is not believed
    assert seen == {"ip": "203.0.113.9", "scheme": "https", "host": "conduit.example.com"}


def test_two_trusted_proxies_go_one_further_left(whoami_app: Callable[[int], Flask]) -> None:
    client = whoami_app(2).test_client()
    seen = client.get("/_whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    assert seen["ip"] == "198.51.100.7"
