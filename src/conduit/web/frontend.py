"""The web UI in embedded mode (``make run``): ``index.html`` for each page of the single-page app.

Any other path outside the API is the UI too, with status 404: the UI draws its "Page not found" page
(nginx does the same, ``deploy/nginx/conduit.conf.j2``). API paths keep their JSON 404.

``bin/build-frontend.py`` writes the UI into ``static/``; Flask serves it at ``/static/`` and nginx, in
front, serves the same files from disk. Names under ``static/assets/`` carry a content hash, so browsers
may keep them for a year; ``index.html`` names the current ones and is revalidated on every visit.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, request, send_from_directory
from werkzeug.exceptions import NotFound

from conduit.web.errors import http_error

bp = Blueprint("frontend", __name__)

#: The client-side routes (RealWorld front-end contract); anything else stays a 404.
PAGES = (
    "/",
    "/login",
    "/register",
    "/settings",
    "/editor",
    "/editor/<path:slug>",
    "/article/<path:slug>",
    "/profile/<username>",
    "/profile/<username>/favorites",
    "/tag/<path:tag>",
)
#: Paths whose 404 stays JSON: the API and the probes.
API_PATHS = re.compile(r"^/(?:api(?:/|$)|healthz$|readyz$|metrics$)")
FINGERPRINTED = re.compile(r"^/static/assets/[\w.-]+\.[0-9a-f]{12}\.(?:js|css|svg)$")
IMMUTABLE = "public, max-age=31536000, immutable"


def page(**_: str) -> Response:
    assert current_app.static_folder is not None
    response = send_from_directory(current_app.static_folder, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.app_errorhandler(NotFound)
def not_found(exc: NotFound) -> Response:
    if request.method not in ("GET", "HEAD") or API_PATHS.match(request.path):
        return http_error(exc)
    response = page()
    response.status_code = 404
    return response


for number, rule in enumerate(PAGES):
    bp.add_url_rule(rule, f"page_{number}", page, methods=["GET"])


@bp.after_app_request
def cache_fingerprinted_assets(response: Response) -> Response:
    if response.status_code == 200 and FINGERPRINTED.match(request.path):
        response.headers["Cache-Control"] = IMMUTABLE
    return response
