"""Query parameters validated as flask-openapi3 validates them, without rebuilding a JSON schema per request.

flask-openapi3 (4.3) reads a query model's ``model_json_schema()`` on every request, only to learn which
fields are lists and which are of type null; pydantic builds that schema anew each time. On the
authenticated 20-article list that was 1.9 ms of 4.9 ms of the app's CPU (bench/overhead.py,
docs/decisions.md). :func:`validate_query` does the same mapping from the query string to the model's
input, with what it needs from the schema worked out once per model (:func:`field_plan`), and
:func:`install` puts it in the library's place. The models, their validation and their errors are the
library's and pydantic's, unchanged.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from flask import request
from pydantic import BaseModel
from werkzeug.datastructures import MultiDict


@dataclass(frozen=True, slots=True)
class QueryField:
    """How one field of a query model is read from the query string."""

    #: The name the value is given to the model under (the alias when the field has one).
    key: str
    #: The query-string names tried in order: the alias, then the field's own name when the model
    #: populates by name.
    names: tuple[str, ...]
    #: Every value of a repeated parameter (an array in the schema), else the first.
    many: bool
    #: The schema's type is null: the key is given even when the parameter is missing.
    null: bool


@functools.cache
def field_plan(model: type[BaseModel]) -> tuple[QueryField, ...]:
    """What flask-openapi3 derives from *model*'s JSON schema on each request, derived once."""
    properties = model.model_json_schema().get("properties", {})
    by_name = bool(model.model_config.get("populate_by_name"))
    plan = []
    for name, info in model.model_fields.items():
        schema = properties.get(info.alias or name) or {}
        many = schema.get("type") == "array" or any(m.get("type") == "array" for m in schema.get("anyOf", []))
        names: tuple[str, ...] = (name,)
        if info.alias:
            names = (info.alias, name) if by_name else (info.alias,)
        plan.append(QueryField(info.alias or name, names, many, schema.get("type") == "null"))
    return tuple(plan)


def _read(args: MultiDict[str, str], field: QueryField) -> Any:
    value: Any = None
    for name in field.names:  # the library's ``a or b``: an empty value falls through to the next name
        value = args.getlist(name) if field.many else args.get(name)
        if value:
            break
    return value


def query_input(model: type[BaseModel], args: MultiDict[str, str]) -> dict[str, Any]:
    """The dict flask-openapi3 hands to ``model.model_validate`` for the query string *args*."""
    values: dict[str, Any] = {}
    for field in field_plan(model):
        value = _read(args, field)
        if (value is not None and value != []) or field.null:
            values[field.key] = value
    for key, value in args.items():  # parameters the model does not name (it may ignore or refuse them)
        if key not in values:
            values[key] = value
    return values


def validate_query(query: type[BaseModel], func_kwargs: dict[str, Any]) -> None:
    """flask-openapi3's ``_validate_query``: the validated model goes to the view as ``query``."""
    func_kwargs["query"] = query.model_validate(obj=query_input(query, request.args))


def install() -> None:
    """Make flask-openapi3 validate query strings with :func:`validate_query` (idempotent). Refuses a
    flask-openapi3 without the function it replaces: the replacement would silently do nothing."""
    from flask_openapi3 import request as openapi_request

    if not callable(getattr(openapi_request, "_validate_query", None)):
        raise RuntimeError("flask_openapi3.request._validate_query is gone: review conduit.web.query_params")
    openapi_request._validate_query = validate_query
