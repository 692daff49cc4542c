"""The client's address and scheme as the trusted proxies in front saw them (``PROXY_TRUSTED_HOPS``)."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from conduit.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    hops = settings.proxy_trusted_hops
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
