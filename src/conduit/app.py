"""The application factory."""

from __future__ import annotations

from typing import Any

from flask import Response, redirect
from flask_openapi3.models.info import Info
from flask_openapi3.models.server import Server
from flask_openapi3.models.tag import Tag as OpenAPITag
from flask_openapi3.openapi import OpenAPI
from werkzeug.middleware.proxy_fix import ProxyFix

from conduit import (
    __version__,
    cors,
    frontend,
    headers,
    health,
    logs,
    metrics,
    rate_limits,
    security,
    shared_state,
)
from conduit.api import SECURITY_SCHEMES, GenericError
from conduit.articles.routes import bp as articles_bp
from conduit.articles.routes import favorites_bp
from conduit.comments.routes import bp as comments_bp
from conduit.db import Database
from conduit.error_tracking import init_error_tracking
from conduit.errors import register_error_handlers
from conduit.json_provider import OrjsonProvider
from conduit.profiles.routes import bp as profiles_bp
from conduit.settings import Settings, load_settings
from conduit.tags.routes import bp as tags_bp
from conduit.users.routes import bp as users_bp
from conduit.validation import check_json_body, validation_error_response

API_TAGS = ["Articles", "Comments", "Favorites", "Profile", "Tags", "User and Authentication"]


def create_app(settings: Settings | None = None, **overrides: Any) -> OpenAPI:
    """Build the app from *settings*, or from the environment (see :mod:`conduit.settings`)."""
    settings = settings or load_settings(**overrides)
    logs.configure_logging(settings)
    init_error_tracking(settings)

    app = OpenAPI(
        __name__,
        info=Info(title="Conduit API", version=__version__, description="The RealWorld Conduit API."),
        security_schemes=SECURITY_SCHEMES,
        validation_error_status=422,
        validation_error_model=GenericError,
        validation_error_callback=validation_error_response,
        doc_prefix="/api/docs",
        doc_url="/openapi.json",
        servers=[Server(url="/", description="this server")],
    )
    app.tags = [OpenAPITag(name=name) for name in API_TAGS]
    app.config.update(
        SECRET_KEY=settings.secret_key,
        DEBUG=settings.debug,
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=settings.max_content_length,
    )
    app.json = OrjsonProvider(app)
    app.extensions["conduit.settings"] = settings
    if settings.proxy_trusted_hops:
        hops = settings.proxy_trusted_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    Database().init_app(app, settings)
    metrics.init_app(app, settings)  # before the other hooks: requests they refuse are counted too
    shared_state.init_app(app, settings)
    logs.init_app(app)
    headers.init_app(app)
    cors.init_app(app, settings)  # before the rate limits: a preflight is answered, not counted
    rate_limits.init_app(app, settings)
    security.init_app(app, settings)
    app.before_request(check_json_body)
    register_error_handlers(app)

    for blueprint in (users_bp, profiles_bp, articles_bp, favorites_bp, comments_bp, tags_bp):
        app.register_api(blueprint)
    app.register_blueprint(health.bp)
    app.register_blueprint(frontend.bp)

    @app.get("/api/openapi.json", doc_ui=False)
    def openapi_json() -> dict[str, Any]:
        return app.api_doc

    @app.get("/api/docs", doc_ui=False)
    def docs() -> Response:
        return redirect("/api/docs/swagger", code=302)  # type: ignore[return-value]

    return app
