"""Query strings reach the views as flask-openapi3 would hand them over, without a JSON schema per request."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_openapi3 import request as openapi_request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conduit.articles.schemas import ArticleQuery, FeedQuery
from conduit.comments.schemas import CommentsQuery
from conduit.web import query_params


class Everything(BaseModel):
    """Every shape the library's mapping tells apart; extra keys are kept, so a dump shows the input."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    plain: str | None = None
    aliased: str | None = Field(default=None, alias="aliasName")
    many: list[str] = Field(default_factory=list)
    maybe_many: list[int] | None = Field(default=None, alias="maybeMany")
    number: int = 0
    nothing: None = None


class AliasOnly(BaseModel):
    model_config = ConfigDict(extra="allow")

    aliased: list[str] | None = Field(default=None, alias="tags")
    single: str | None = Field(default=None, alias="one")


QUERIES = [
    "",
    "plain=a",
    "plain=",
    "plain=a&plain=b",
    "aliasName=x",
    "aliased=y",
    "aliasName=&aliased=z",
    "aliasName=x&aliased=y",
    "many=1&many=2&many=3",
    "many=",
    "maybeMany=1&maybeMany=2",
    "maybe_many=4&maybe_many=5",
    "maybeMany=x",
    "number=12",
    "number=twelve",
    "nothing=1",
    "unknown=1&unknown=2&other=",
    "tags=a&tags=b&one=c&aliased=d&single=e",
    "limit=20&offset=5&tag=dragons&author=ann&favorited=bob",
    "limit=0",
    "offset=-1",
    "limit=1e3",
]
MODELS: list[type[BaseModel]] = [Everything, AliasOnly, ArticleQuery, FeedQuery, CommentsQuery]


def outcome(app: Flask, validate: Any, model: type[BaseModel], query: str) -> Any:
    with app.test_request_context(f"/?{query}"):
        func_kwargs: dict[str, Any] = {}
        try:
            validate(model, func_kwargs)
        except ValidationError as exc:
            return ("invalid", exc.errors(include_url=False))
        return ("valid", func_kwargs["query"].model_dump(by_alias=True))


@pytest.fixture(scope="module")
def library_validate_query() -> Any:
    """flask-openapi3's own function, which :func:`query_params.install` replaces."""
    import importlib

    fresh = importlib.reload(openapi_request)  # the module as the library ships it
    original = fresh._validate_query
    query_params.install()
    return original


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
@pytest.mark.parametrize("query", QUERIES)
def test_same_input_and_errors_as_the_library(
    library_validate_query: Any, model: type[BaseModel], query: str
) -> None:
    app = Flask(__name__)
    assert library_validate_query is not query_params.validate_query
    expected = outcome(app, library_validate_query, model, query)
    assert outcome(app, query_params.validate_query, model, query) == expected


def test_the_plan_reads_the_schema_once() -> None:
    plan = query_params.field_plan(Everything)
    assert query_params.field_plan(Everything) is plan
    fields = {field.key: field for field in plan}
    assert fields["aliasName"].names == ("aliasName", "aliased")
    assert fields["many"].many
    assert fields["maybeMany"].many
    assert not fields["plain"].many
    assert fields["nothing"].null
    assert {field.key: field.names for field in query_params.field_plan(AliasOnly)} == {
        "tags": ("tags",),
        "one": ("one",),
    }


def test_installed_in_flask_openapi3(client: FlaskClient) -> None:
    assert openapi_request._validate_query is query_params.validate_query


def test_a_list_request_builds_no_json_schema(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/api/articles?limit=2").status_code == 200  # the plan exists after this one
    calls: list[type[BaseModel]] = []
    original = ArticleQuery.model_json_schema

    def counting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(ArticleQuery)
        return original(*args, **kwargs)

    monkeypatch.setattr(ArticleQuery, "model_json_schema", counting)
    for query in ("limit=2", "limit=3&offset=1", "tag=x&limit=1"):
        assert client.get(f"/api/articles?{query}").status_code == 200
    assert client.get("/api/articles?limit=0").status_code == 422
    assert calls == []


def test_query_errors_keep_their_shape(client: FlaskClient) -> None:
    response = client.get("/api/articles?limit=0&offset=x")
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"limit", "offset"}
