"""Security headers on every response, and a Swagger UI page that needs no inline script.

Each response gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
``X-Frame-Options: DENY`` and a Content-Security-Policy that forbids framing: the web UI's policy on
HTML pages, a policy of its own on the API documentation, and ``default-src 'none'`` on everything else
(JSON cannot run anything). nginx sends the same headers with the files it serves from disk
(``deploy/nginx/conduit.conf.j2``) and adds HSTS over TLS.
"""

from __future__ import annotations

from flask import Flask, Response, request

#: The single-page web UI: its own scripts and styles only; images also from ``data:`` (inline SVG icons)
#: and any https site (users' avatars and article images; docs/decisions.md says why).
UI_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Swagger UI at /api/docs/swagger: the bundle and our init script are files; Swagger UI sets styles
#: through the DOM and renders its icons as data: images.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: JSON and anything else that is not a page.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_PREFIX = "/api/docs"

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

#: Replaces flask-openapi3-swagger's page, whose inline script a strict policy would block.
SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="UTF-8">
    <title>Conduit API</title>
    <link rel="shortcut icon" href="swagger/images/swagger.svg">
    <link rel="stylesheet" type="text/css" href="swagger/css/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{{ doc_url }}"></div>
<script src="swagger/js/swagger-ui-bundle.js"></script>
<script src="swagger/js/swagger-ui-standalone-preset.js"></script>
<script src="swagger-init.js"></script>
</body>
</html>
"""
SWAGGER_INIT = """window.addEventListener("load", function () {
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: new URL(element.dataset.openapiUrl, window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    showExtensions: true,
    showCommonExtensions: true
  });
});
"""


def policy_for(path: str, mimetype: str | None) -> str:
    if path.startswith(DOCS_PREFIX):
        return DOCS_POLICY
    if mimetype == "text/html":
        return UI_POLICY
    return API_POLICY


#: Each policy's full set of headers, built once (issue 16: four ``setdefault`` calls scanned the headers
#: eight times per response).
_HEADER_SETS = {
    policy: (*HEADERS.items(), ("Content-Security-Policy", policy))
    for policy in (UI_POLICY, DOCS_POLICY, API_POLICY)
}
_OUR_NAMES = frozenset(name.lower() for name in (*HEADERS, "Content-Security-Policy"))


def add_security_headers(response: Response) -> Response:
    """Add each security header the response does not already carry (a view may set its own)."""
    headers = response.headers
    wanted = _HEADER_SETS[policy_for(request.path, response.mimetype)]
    already = {name.lower() for name, _ in headers.items()} & _OUR_NAMES
    headers.extend(wanted if not already else [item for item in wanted if item[0].lower() not in already])
    return response


def swagger_init() -> Response:
    response = Response(SWAGGER_INIT, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


def init_app(app: Flask) -> None:
    app.config["SWAGGER_HTML_STRING"] = SWAGGER_PAGE
    app.add_url_rule(f"{DOCS_PREFIX}/swagger-init.js", "swagger_init", swagger_init)
    app.after_request(add_security_headers)
