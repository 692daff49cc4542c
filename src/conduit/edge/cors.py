"""Cross-origin requests to the API from the origins in ``CORS_ORIGINS`` only (none by default).

Tokens travel in the ``Authorization`` header, never in cookies, so no response allows credentials and
no response names ``*``: an allowed origin is echoed back, with ``Vary: Origin`` for caches. A preflight
(``OPTIONS`` with ``Access-Control-Request-Method``) from an allowed origin gets 204 with the methods
and headers the API accepts; from any other origin 403.
"""

from __future__ import annotations

from flask import Flask, Response, request

from conduit.settings import Settings
from conduit.web.errors import error_response

API_PREFIX = "/api/"
ALLOWED_METHODS = "GET, POST, PUT, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type, X-Request-ID"
EXPOSED_HEADERS = "Link, Retry-After, X-Request-ID"
PREFLIGHT_MAX_AGE = "600"


def is_preflight() -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


class Cors:
    def __init__(self, origins: list[str]) -> None:
        self.origins = frozenset(origins)

    def allowed(self) -> str | None:
        """The request's origin when it may call the API, else None."""
        origin = request.headers.get("Origin", "").rstrip("/").lower()
        if request.path.startswith(API_PREFIX) and origin in self.origins:
            return origin
        return None

    def preflight(self) -> Response | None:
        """``before_request``: answer a preflight before anything else looks at the request."""
        if not (is_preflight() and request.path.startswith(API_PREFIX)):
            return None
        origin = self.allowed()
        if origin is None:
            return error_response(403, {"origin": ["is not allowed to call this API"]})
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response

    def add_headers(self, response: Response) -> Response:
        if not request.path.startswith(API_PREFIX):
            return response
        response.vary.add("Origin")
        origin = self.allowed()
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            if not is_preflight():
                response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response


def init_app(app: Flask, settings: Settings) -> None:
    """Without ``CORS_ORIGINS`` nothing is added: browsers keep the same-origin policy."""
    if not settings.cors_origins:
        return
    cors = Cors(settings.cors_origins)
    app.before_request(cors.preflight)
    app.after_request(cors.add_headers)
