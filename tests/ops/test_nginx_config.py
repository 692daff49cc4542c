"""nginx sends the app's security headers with what it answers itself, and HSTS over TLS.

nginx's add_header is inherited only by a location that has none of its own, so each location that
adds a header must add all of them; a location that proxies to the app passes the app's headers on."""

from __future__ import annotations

import re

import pytest

from conduit.edge.headers import API_POLICY, HEADERS, UI_POLICY
from conduit.ops.nginx_config import NginxTarget, render_site

LOCATION = re.compile(r"^    location ([^{]+)\{\n(.*?)^    \}", re.MULTILINE | re.DOTALL)


def locations(config: str) -> dict[str, str]:
    return {name.strip(): body for name, body in LOCATION.findall(config)}


def added(body: str) -> dict[str, str]:
    return {
        name: value.strip('"')
        for name, value in re.findall(r"add_header (\S+) (\"[^\"]*\"|\S+) always;", body)
    }


@pytest.mark.parametrize("tls", [False, True])
def test_every_location_nginx_answers_itself_sends_the_security_headers(tls: bool) -> None:
    config = render_site(NginxTarget(tls=tls))
    checked = 0
    for name, body in locations(config).items():
        headers = added(body)
        proxied = "proxy_pass" in body or "uwsgi_pass" in body
        if not headers or proxied:
            assert not any(header in headers for header in HEADERS), name  # never doubled
            continue
        checked += 1
        for header, value in HEADERS.items():
            assert headers[header] == value, (name, header)
        policy = API_POLICY if name.startswith("@conduit_") else UI_POLICY
        assert headers["Content-Security-Policy"] == policy, name
        if tls:
            assert headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains", name
    assert checked >= 7  # five JSON errors, /static/ and /


def test_hsts_is_sent_over_tls_only() -> None:
    assert "Strict-Transport-Security" not in render_site(NginxTarget(tls=False))
    tls = render_site(NginxTarget(tls=True))
    https_server = tls.split("ssl_certificate ", 1)[1]
    proxied = [body for body in locations(https_server).values() if "proxy_pass" in body]
    assert proxied
    assert all("Strict-Transport-Security" in body for body in proxied)
