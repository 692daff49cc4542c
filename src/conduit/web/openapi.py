"""The OpenAPI application object and the shared pieces of its description: the error model, the security
scheme, response maps, the documentation routes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Response, redirect
from flask_openapi3.models.info import Info
from flask_openapi3.models.server import Server
from flask_openapi3.models.tag import Tag as OpenAPITag
from flask_openapi3.openapi import OpenAPI
from pydantic import BaseModel, Field

from conduit import __version__
from conduit.settings import Settings
from conduit.web import query_params
from conduit.web.json import OrjsonProvider
from conduit.web.validation import validation_error_response

SECURITY_SCHEMES: dict[str, Any] = {
    "Token": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Token <jwt>`, the token returned by registration or login.",
    }
}
TOKEN: list[dict[str, list[str]]] = [{"Token": []}]
ResponseMap = dict[str | int | HTTPStatus, type[BaseModel] | dict[Any, Any] | None]


class GenericError(BaseModel):
    """The RealWorld error body: each key (a field or a resource) maps to its messages."""

    errors: dict[str, list[str]] = Field(examples=[{"title": ["can't be blank"]}])


def responses(ok: int, model: type[BaseModel] | None, *errors: int) -> ResponseMap:
    """The response map of one operation: its success status and the error statuses it can send."""
    result: ResponseMap = {ok: model if model is not None else {"description": "No content"}}
    for status in (*errors, 422):
        result[status] = GenericError
    return result


API_TAGS = ["Articles", "Comments", "Favorites", "Profile", "Tags", "User and Authentication"]


def make_api_app(settings: Settings) -> OpenAPI:
    """The Flask app (flask-openapi3's subclass): request validation errors in the spec's shape, orjson
    responses, the documentation under /api/docs. Its root is the package, where ``static/`` lives.
    Query strings are validated through :mod:`conduit.web.query_params` (the library's mapping, cheaper)."""
    query_params.install()
    app = OpenAPI(
        "conduit",
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

    @app.get("/api/openapi.json", doc_ui=False)
    def openapi_json() -> dict[str, Any]:
        return app.api_doc

    @app.get("/api/docs", doc_ui=False)
    def docs() -> Response:
        return redirect("/api/docs/swagger", code=302)  # type: ignore[return-value]

    return app
