"""Shared pieces of the OpenAPI description: the error model, the security scheme, response maps."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import current_app
from pydantic import BaseModel, Field

from conduit.settings import Settings

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


def settings() -> Settings:
    value: Settings = current_app.extensions["conduit.settings"]
    return value
