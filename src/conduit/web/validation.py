"""Request validation: JSON bodies are checked before the view, pydantic errors become RealWorld errors.

Messages follow the RealWorld suites ("can't be blank", "has already been taken") and are written for
the developer of a client: each names what was wrong with the value, never Python internals.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import Response, request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationError,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, ErrorDetails, PydanticCustomError
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from conduit.storage.ids import MAX_ROW_ID, MIN_ROW_ID
from conduit.web.errors import ApiError, error_response

BLANK = "can't be blank"
NUL_MESSAGE = "must not contain a NUL character (U+0000)"

_MESSAGES: dict[str, str] = {
    "missing": BLANK,
    "string_type": "must be a string",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_too_short": "is too short (minimum is {min_length} characters)",
    "string_too_long": "is too long (maximum is {max_length} characters)",
    "too_short": "is too short (minimum is {min_length} items)",
    "too_long": "is too long (maximum is {max_length} items)",
    "greater_than_equal": "must be greater than or equal to {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be less than or equal to {le}",
    "less_than": "must be less than {lt}",
    "extra_forbidden": "is not a known field",
}


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_contains_nul(item) for item in value)
    return False


class RequestModel(BaseModel):
    """Base of request bodies and parameters: unknown fields are ignored, strings are not coerced.

    No field a model reads may hold a NUL character: PostgreSQL refuses it in text (issue 14, finding
    3). Fields it ignores may: they reach no database."""

    model_config = ConfigDict(extra="ignore", strict=False, populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _contains_nul(value):
            raise PydanticCustomError("nul_character", NUL_MESSAGE)
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The OpenAPI document states the rule too: every string property without a pattern of its own
        gets one that excludes NUL, so clients (and schemathesis) know such a value is invalid."""
        schema = handler(core_schema)
        for prop in handler.resolve_ref_schema(schema).get("properties", {}).values():
            _no_nul_pattern(prop)
        return schema


NO_NUL_PATTERN = "^[^\\x00]*$"


def _no_nul_pattern(schema: dict[str, Any]) -> None:
    """Add :data:`NO_NUL_PATTERN` to a string schema (or each string branch of an anyOf, or array items)."""
    for branch in schema.get("anyOf", []):
        _no_nul_pattern(branch)
    if isinstance(schema.get("items"), dict):
        _no_nul_pattern(schema["items"])
    if schema.get("type") == "string" and "pattern" not in schema and "format" not in schema:
        schema["pattern"] = NO_NUL_PATTERN


def _field_name(details: ErrorDetails) -> str:
    names = [part for part in details["loc"] if isinstance(part, str)]
    return names[-1] if names else "body"


def _message(details: ErrorDetails) -> str:
    kind = details["type"]
    if kind in ("too_short", "too_long") and isinstance(details.get("input"), str):
        # A length limit behind a BeforeValidator is checked generically; a string still counts characters.
        kind = f"string_{kind}"
    template = _MESSAGES.get(kind)
    if template is None:
        return str(details["msg"])
    try:
        return template.format(**details.get("ctx", {}))
    except (KeyError, IndexError):
        return str(details["msg"])


def errors_from_validation(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for details in exc.errors(include_url=False):
        messages = errors.setdefault(_field_name(details), [])
        message = _message(details)
        if message not in messages:
            messages.append(message)
    return errors


def validation_error_response(exc: ValidationError) -> Response:
    """flask-openapi3's ``validation_error_callback``: 422, or 404 for an id that names no row."""
    missing = [details.get("ctx", {}) for details in exc.errors() if details["type"] == NO_SUCH_ROW]
    if missing:
        return error_response(404, {str(ctx.get("resource", "row")): ["not found"] for ctx in missing})
    return error_response(422, errors_from_validation(exc))


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or mimetype.endswith("+json")


def check_json_body() -> None:
    """Before a view runs: a request that carries a body must send well-formed JSON and say so."""
    if request.method not in ("POST", "PUT", "PATCH") or request.routing_exception is not None:
        return  # no body to check, or no route: the 404/405 is the answer
    has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding", "") == "chunked"
    if not has_body:
        return
    if not _is_json(request.mimetype):
        sent = request.mimetype or "no Content-Type"
        raise ApiError(422, {"body": [f"must be JSON sent with Content-Type: application/json (got {sent})"]})
    # A chunked body has no length to check up front: Werkzeug stops reading at the limit, and the view
    # would see a cut body. One byte more on the input means the body was too large.
    limit = request.max_content_length
    chunked_too_large = (
        request.content_length is None
        and limit is not None
        and len(request.get_data()) >= limit
        and request.environ["wsgi.input"].read(1)
    )
    if chunked_too_large:
        raise RequestEntityTooLarge()
    try:
        body = request.get_json()
        unstorable = _unstorable_text(body)
    except BadRequest as exc:
        cause = exc.__cause__ or exc.__context__
        detail = f": {cause}" if isinstance(cause, ValueError) else ""
        raise ApiError(422, {"body": [f"is not valid JSON{detail}"]}) from None
    except RecursionError:
        raise ApiError(422, {"body": ["is nested too deeply"]}) from None
    if unstorable is not None:
        raise ApiError(422, {unstorable[0]: [unstorable[1]]})


#: Text no encoder takes: JSON may escape half of a surrogate pair (``"\\ud800"``), anywhere in a body.
SURROGATE_MESSAGE = "is not valid JSON: a \\u escape is a lone surrogate (not Unicode text)"


def _text_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def _unstorable_text(body: Any) -> tuple[str, str] | None:
    """The first string in a JSON document (key or value) that no column could hold: (field, message).

    The field is the nearest key above the string, the name a client sent it under."""
    pending: list[tuple[str, Any]] = [("body", body)]
    while pending:
        field, value = pending.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem is not None:
                return (field if problem == NUL_MESSAGE else "body"), problem
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = _text_problem(key)
                if problem is not None:
                    return ("body" if problem == SURROGATE_MESSAGE else field), problem
                pending.append((key, item))
        elif isinstance(value, list):
            pending.extend((field, item) for item in value)
    return None


def check_text_input() -> None:
    """Before a view runs: no NUL in the path or the query string (the body is checked with its JSON).

    One check for every route, so no view passes such text to the database: a path with NUL names no
    resource (404), a query parameter with NUL is a client error (422)."""
    if "\x00" in request.path:
        raise ApiError(404, {"route": ["no resource has a name with a NUL character (U+0000)"]})
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise ApiError(422, {name.replace("\x00", "") or "query": [NUL_MESSAGE]})


#: Error type of an id beyond the column: answered 404 (no such row), not 422.
NO_SUCH_ROW = "no_such_row"


#: A row id taken from the path; below 1 is a 422. Add :func:`within_rows` to make one beyond the
#: column's range a 404, as the path names no row.
RowId = Annotated[int, Field(ge=MIN_ROW_ID, json_schema_extra={"maximum": MAX_ROW_ID})]


def within_rows(resource: str) -> AfterValidator:
    """An id beyond the column's range is the 404 of a missing *resource*; it never reaches the
    database, which would refuse it (PostgreSQL: "integer out of range")."""

    def in_range(value: int) -> int:
        if value > MAX_ROW_ID:
            raise PydanticCustomError(NO_SUCH_ROW, "not found", {"resource": resource})
        return value

    return AfterValidator(in_range)


def _strip_required(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        raise PydanticCustomError("blank", BLANK)
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


#: A required string: null, missing, empty or only spaces is "can't be blank"; surrounding spaces go.
#: The pattern says so in the OpenAPI document: Python's whitespace (str.strip) is ECMAScript's ``\s``
#: plus the separators U+001C-U+001F and U+0085. It excludes NUL too, which no field may hold (the fuzz
#: dictionaries of tests/integration found the unanchored pattern documenting NUL as valid).
RequiredText = Annotated[
    str,
    BeforeValidator(_strip_required),
    Field(
        min_length=1,
        json_schema_extra={"pattern": r"^[^\x00]*[^\s\x00\x1c-\x1f\x85][^\x00]*$"},
    ),
]
#: For optional strings where "" means "no value" (``bio``, ``image``).
BlankToNone = BeforeValidator(_blank_to_none)
