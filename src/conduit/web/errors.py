"""Every error leaves as JSON in the RealWorld shape ``{"errors": {key: [message, ...]}}``."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, SecurityError

log = logging.getLogger("conduit.web.errors")

#: Seconds a client should wait before retrying when the database is unavailable.
RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    """An expected failure with its HTTP status and error body."""

    def __init__(self, status: int, errors: dict[str, list[str]], headers: dict[str, str] | None = None):
        super().__init__(f"{status} {errors}")
        self.status = status
        self.errors = errors
        self.headers = headers or {}


def error_response(
    status: int, errors: dict[str, list[str]], headers: dict[str, str] | None = None
) -> Response:
    response = jsonify({"errors": errors})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def not_found(resource: str) -> ApiError:
    return ApiError(404, {resource: ["not found"]})


def forbidden(resource: str) -> ApiError:
    return ApiError(403, {resource: ["forbidden"]})


def unauthorized(message: str = "is missing") -> ApiError:
    return ApiError(401, {"token": [message]}, {"WWW-Authenticate": 'Token realm="conduit"'})


def http_error(exc: HTTPException) -> Response:
    if isinstance(exc.response, Response):  # abort(response): a validation error already shaped by us
        return exc.response
    status = exc.code or 500
    headers: dict[str, str] = {}
    if isinstance(exc, SecurityError):  # TRUSTED_HOSTS: a Host this app does not serve
        errors = {"host": ["is not served here"]}
    elif status == 404:
        errors = {"route": [f"no route matches {request.method} {request.path}"]}
    elif status == 405:
        allowed = sorted(getattr(exc, "valid_methods", None) or [])
        headers["Allow"] = ", ".join(allowed)
        errors = {"method": [f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"]}
    elif status == 413:
        errors = {"body": [f"is larger than the limit of {request.max_content_length} bytes"]}
    elif status in (400, 415):
        status = 422
        errors = {"body": [str(exc.description or "is not a valid request")]}
    else:
        errors = {"request": [str(exc.description or exc.name).strip()]}
    return error_response(status, errors, headers)


def _unexpected(exc: Exception) -> Response:
    request_id = g.get("request_id", "-")
    if isinstance(exc, OperationalError | PoolTimeoutError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        log.error("database unavailable: %s", str(exc).splitlines()[0])
        return error_response(
            503,
            {"database": ["is unavailable; retry later"]},
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.exception("unhandled error while serving %s %s", request.method, request.path)
    return error_response(
        500,
        {"server": [f"an unexpected error occurred; quote request id {request_id} when reporting it"]},
    )


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.errors, exc.headers)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, _unexpected)
