"""Metrics through the Flask client: labels, the /metrics allowlist, build info, business counters.

The metrics are per process, shared by every app a test makes, so the tests compare before and after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from conduit import __version__
from conduit.settings import ConfigError, load_settings
from tests.support.accounts import Account, create_article, register
from tests.support.databases import get_db_of, make_app

OUTSIDER = "203.0.113.9"
REFUSED = {"errors": {"request": ["is not allowed from this address"]}}


def scrape(client: FlaskClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.data[:300]
    assert response.content_type.startswith("text/plain; version=0.0.4")
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(client: FlaskClient, name: str, **labels: str) -> float:
    return scrape(client).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def apps(database_url: str) -> Iterator[list[Flask]]:
    """Apps made with particular settings, disposed of afterwards."""
    made: list[Flask] = []
    yield made
    for application in made:
        get_db_of(application).dispose()


def test_the_endpoint_label_is_the_route_template(client: FlaskClient) -> None:
    requests = "conduit_http_requests_total"
    template = {"method": "GET", "endpoint": "/api/articles/<slug>", "status": "404"}
    unmatched = {"method": "GET", "endpoint": "unmatched", "status": "404"}
    before = scrape(client)
    assert client.get("/api/articles/no-such-article").status_code == 404
    assert client.get("/api/articles/another-one").status_code == 404
    assert client.get("/no/such/route/x1").status_code == 404
    after = scrape(client)

    def delta(name: str, labels: dict[str, str]) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta(requests, template) == 2
    assert delta(requests, unmatched) == 1
    duration = {"method": "GET", "endpoint": "/api/articles/<slug>"}
    assert delta("conduit_http_request_duration_seconds_count", duration) == 2
    assert delta("conduit_http_request_duration_seconds_bucket", {**duration, "le": "+Inf"}) == 2
    # never the raw path
    assert not any("no-such-article" in value or "x1" in value for _, labels in after for _, value in labels)


def test_invented_methods_share_one_label(client: FlaskClient) -> None:
    labels = {"method": "other", "endpoint": "unmatched", "status": "405"}
    before = value(client, "conduit_http_requests_total", **labels)
    assert client.open("/api/tags", method="BREW").status_code == 405
    assert value(client, "conduit_http_requests_total", **labels) == before + 1


def test_refused_requests_are_counted_with_their_route(client: FlaskClient) -> None:
    """A 401 from the authentication hook is still timed and counted under its route."""
    labels = {"method": "GET", "endpoint": "/api/user", "status": "401"}
    before = value(client, "conduit_http_requests_total", **labels)
    assert client.get("/api/user").status_code == 401
    assert value(client, "conduit_http_requests_total", **labels) == before + 1


def test_gauges_during_a_scrape(app: Flask, client: FlaskClient) -> None:
    samples = scrape(client)
    assert samples[("conduit_http_requests_in_flight", frozenset())] >= 1  # the scrape itself
    assert samples[("conduit_ready", frozenset())] == 1
    assert samples[("conduit_db_pool_max_connections", frozenset())] >= 0
    idle = samples[("conduit_db_pool_checked_out_connections", frozenset())]
    with get_db_of(app).engine.connect():
        assert value(client, "conduit_db_pool_checked_out_connections") == idle + 1
    assert value(client, "conduit_db_pool_checked_out_connections") == idle


def test_ready_is_0_when_the_database_does_not_answer(apps: list[Flask]) -> None:
    app = make_app("postgresql://nobody@127.0.0.1:1/nothing", db_connect_timeout=1)
    apps.append(app)
    assert value(app.test_client(), "conduit_ready") == 0


def test_metrics_are_refused_to_other_addresses(client: FlaskClient) -> None:
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": OUTSIDER})
    assert response.status_code == 403
    assert response.content_type == "application/json"
    assert response.get_json() == REFUSED
    # loopback, in IPv6 and IPv4-mapped form too, is allowed by default
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 200, address


def test_the_allowlist_takes_networks(database_url: str, apps: list[Flask]) -> None:
    app = make_app(database_url, metrics_allow=["198.51.100.0/24", "2001:db8::/32"])
    apps.append(app)
    client = app.test_client()
    for address in ("198.51.100.200", "2001:db8::7"):
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 200, address
    for address in ("127.0.0.1", OUTSIDER):  # loopback only when listed
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 403, address


def test_behind_a_proxy_the_real_client_address_decides(database_url: str, apps: list[Flask]) -> None:
    """nginx connects from loopback; with PROXY_TRUSTED_HOPS=1 the client it names is the one checked."""
    app = make_app(database_url, proxy_trusted_hops=1)
    apps.append(app)
    client = app.test_client()
    through_nginx = {"REMOTE_ADDR": "127.0.0.1"}
    outside = client.get("/metrics", environ_base=through_nginx, headers={"X-Forwarded-For": OUTSIDER})
    assert outside.status_code == 403
    assert outside.get_json() == REFUSED
    local = client.get("/metrics", environ_base=through_nginx, headers={"X-Forwarded-For": "127.0.0.1"})
    assert local.status_code == 200


def test_metrics_can_be_turned_off(database_url: str, apps: list[Flask]) -> None:
    app = make_app(database_url, metrics_enabled=False)
    apps.append(app)
    assert app.test_client().get("/metrics").status_code == 404


def test_build_info(database_url: str, apps: list[Flask]) -> None:
    app = make_app(database_url, conduit_revision="0123abcd")
    apps.append(app)
    labels = {"version": __version__, "revision": "0123abcd"}
    assert value(app.test_client(), "conduit_build_info", **labels) == 1


def test_business_counters(client: FlaskClient) -> None:
    names = ("conduit_users_registered_total", "conduit_articles_published_total")
    comments = "conduit_comments_created_total"
    before = scrape(client)
    author: Account = register(client, "metrics_author")
    article = create_article(client, author, title="Counted")
    response = client.post(
        f"/api/articles/{article['slug']}/comments",
        json={"comment": {"body": "Counted too"}},
        headers=author.headers,
    )
    assert response.status_code == 201
    # refused writes count nothing: a taken username, a comment on a missing article
    taken = {"user": {"username": "metrics_author", "email": "other@example.com", "password": "password123"}}
    assert client.post("/api/users", json=taken).status_code == 409
    missing = client.post(
        "/api/articles/nope/comments", json={"comment": {"body": "x"}}, headers=author.headers
    )
    assert missing.status_code == 404
    after = scrape(client)
    for name in (*names, comments):
        key = (name, frozenset())
        assert after[key] - before.get(key, 0.0) == 1, name


def test_metrics_allow_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_ALLOW", "10.0.0.0/8, 192.0.2.1 ,::1")
    assert load_settings(conduit_env="testing").metrics_allow == ["10.0.0.0/8", "192.0.2.1", "::1"]
    monkeypatch.setenv("METRICS_ALLOW", "10.0.0.0/8,prometheus.internal")
    with pytest.raises(ConfigError, match=r"^METRICS_ALLOW: 'prometheus\.internal' is not an IP address"):
        load_settings(conduit_env="testing")


def test_each_status_of_a_route_is_its_own_series_and_every_request_is_timed(client: FlaskClient) -> None:
    route = {"method": "GET", "endpoint": "/api/profiles/<username>"}
    missing = {**route, "status": "404"}
    duration = ("conduit_http_request_duration_seconds_count", route)
    before_missing = value(client, "conduit_http_requests_total", **missing)
    before_timed = value(client, duration[0], **duration[1])
    for name in ("nobody-1", "nobody-2", "nobody-3"):
        assert client.get(f"/api/profiles/{name}").status_code == 404
    assert client.get("/api/user").status_code == 401  # another route: counted apart
    assert value(client, "conduit_http_requests_total", **missing) == before_missing + 3
    assert value(client, duration[0], **duration[1]) == before_timed + 3
