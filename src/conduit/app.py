"""The application factory: a table of contents of what a request goes through."""

from __future__ import annotations

from typing import Any

from flask_openapi3.openapi import OpenAPI

from conduit import security
from conduit.articles.routes import bp as articles_bp
from conduit.articles.routes import favorites_bp
from conduit.comments.routes import bp as comments_bp
from conduit.edge import cors, headers, hosts, proxy, rate_limits
from conduit.extensions import SETTINGS
from conduit.observability import health, logs, metrics
from conduit.observability.error_tracking import init_error_tracking
from conduit.profiles.routes import bp as profiles_bp
from conduit.settings import Settings, load_settings
from conduit.storage import shared_state
from conduit.storage.database import Database
from conduit.tags.routes import bp as tags_bp
from conduit.users import auth
from conduit.users.routes import bp as users_bp
from conduit.web import frontend
from conduit.web.errors import register_error_handlers
from conduit.web.openapi import make_api_app
from conduit.web.validation import check_json_body, check_text_input


def create_app(settings: Settings | None = None, **overrides: Any) -> OpenAPI:
    """Build the app from *settings*, or from the environment (see :mod:`conduit.settings`)."""
    settings = settings or load_settings(**overrides)
    logs.configure_logging(settings)
    init_error_tracking(settings)
    app = make_api_app(settings)
    SETTINGS.install(app, settings)

    # Storage
    Database().init_app(app, settings)
    shared_state.init_app(app, settings)

    # The request pipeline, in the order the hooks run
    proxy.init_app(app, settings)
    hosts.init_app(app, settings)
    metrics.init_app(app, settings)  # before the other hooks: requests they refuse are counted too
    logs.init_app(app)
    headers.init_app(app)
    cors.init_app(app, settings)  # before the rate limits: a preflight is answered, not counted
    rate_limits.init_app(app, settings)
    security.init_app(app, settings)
    auth.init_app(app, settings)
    app.before_request(check_text_input)
    app.before_request(check_json_body)
    register_error_handlers(app)

    # The API, the probes and the web UI
    for blueprint in (users_bp, profiles_bp, articles_bp, favorites_bp, comments_bp, tags_bp):
        app.register_api(blueprint)
    app.register_blueprint(health.bp)
    app.register_blueprint(frontend.bp)
    return app
