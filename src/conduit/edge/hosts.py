"""The Host header is the client's word: answer only the configured hosts, and never build a redirect
from it (issue 14, finding 9).

``TRUSTED_HOSTS`` (Flask) refuses another Host with 400. Whatever it allows, a redirect the app sends
(Werkzeug's slash and merge-slashes redirects: ``/api//tags`` -> ``/api/tags``) carries a relative
``Location``: a browser resolves it against the URL it asked for, so no Host can make it point elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response

from conduit.settings import Settings


def relative_location(response: Response) -> Response:
    location = response.headers.get("Location")
    if location:
        parts = urlsplit(location)
        if parts.scheme or parts.netloc:
            response.headers["Location"] = urlunsplit(
                ("", "", parts.path or "/", parts.query, parts.fragment)
            )
    return response


def init_app(app: Flask, settings: Settings) -> None:
    if settings.trusted_hosts:
        app.config["TRUSTED_HOSTS"] = settings.trusted_hosts
    app.after_request(relative_location)
