"""Pydantic errors become RealWorld errors: one key per field, messages for the developer of a client."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from conduit.web.validation import BLANK, BlankToNone, RequestModel, RequiredText, errors_from_validation


class Inner(RequestModel):
    title: RequiredText
    tagList: list[str] = Field(default_factory=list)  # noqa: N815 - the RealWorld field name
    count: int = 0
    flag: bool = False
    short: Annotated[str, Field(max_length=3)] = ""
    long: Annotated[str, Field(min_length=3)] = "abc"
    limit: Annotated[int, Field(ge=1, le=10)] = 5


class Outer(RequestModel):
    article: Inner


class OptionalFields(RequestModel):
    bio: Annotated[str | None, BlankToNone] = None
    name: RequiredText = "kept"


def errors_of(model: type[BaseModel], data: object) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return errors_from_validation(caught.value)


def test_missing_wrapper_is_blank() -> None:
    assert errors_of(Outer, {}) == {"article": [BLANK]}


def test_missing_nested_field_is_keyed_by_its_own_name() -> None:
    assert errors_of(Outer, {"article": {}}) == {"title": ["can't be blank"]}


def test_wrong_types_have_readable_messages() -> None:
    errors = errors_of(Outer, {"article": {"title": 5, "tagList": "x", "count": "many", "flag": "maybe"}})
    assert errors == {
        "title": ["must be a string"],
        "tagList": ["must be an array"],
        "count": ["must be an integer"],
        "flag": ["must be true or false"],
    }


def test_float_for_integer() -> None:
    assert errors_of(Outer, {"article": {"title": "t", "count": 1.5}}) == {"count": ["must be an integer"]}


def test_wrong_type_of_a_list_item_is_keyed_by_the_list() -> None:
    assert errors_of(Outer, {"article": {"title": "t", "tagList": ["ok", 3]}}) == {
        "tagList": ["must be a string"]
    }


def test_same_message_for_several_items_appears_once() -> None:
    assert errors_of(Outer, {"article": {"title": "t", "tagList": [1, 2, 3]}}) == {
        "tagList": ["must be a string"]
    }


def test_wrapper_of_the_wrong_type_must_be_an_object() -> None:
    assert errors_of(Outer, {"article": []}) == {"article": ["must be an object"]}
    assert errors_of(Outer, {"article": "text"}) == {"article": ["must be an object"]}


def test_error_without_a_field_name_is_keyed_body() -> None:
    assert errors_of(Outer, ["not", "an", "object"]) == {"body": ["must be an object"]}


def test_length_and_range_constraints_name_their_limits() -> None:
    errors = errors_of(Outer, {"article": {"title": "t", "short": "abcd", "long": "a", "limit": 11}})
    assert errors == {
        "short": ["is too long (maximum is 3 characters)"],
        "long": ["is too short (minimum is 3 characters)"],
        "limit": ["must be less than or equal to 10"],
    }
    assert errors_of(Outer, {"article": {"title": "t", "limit": 0}}) == {
        "limit": ["must be greater than or equal to 1"]
    }


def test_no_python_internals_in_messages() -> None:
    errors = errors_of(Outer, {"article": {"title": None, "tagList": {"a": 1}, "count": [], "flag": []}})
    for messages in errors.values():
        for message in messages:
            assert "Input should" not in message
            assert "pydantic" not in message.lower()
            assert "type=" not in message


@pytest.mark.parametrize("value", ["", "   ", "\t\n ", None])
def test_required_text_rejects_blank_and_null(value: str | None) -> None:
    assert errors_of(Outer, {"article": {"title": value}}) == {"title": [BLANK]}


def test_required_text_strips_surrounding_whitespace() -> None:
    assert Outer.model_validate({"article": {"title": "  Hello world \n"}}).article.title == "Hello world"


def test_required_text_rejects_non_strings() -> None:
    assert errors_of(Outer, {"article": {"title": ["x"]}}) == {"title": ["must be a string"]}


def test_unknown_fields_are_ignored() -> None:
    article = Outer.model_validate({"article": {"title": "t", "author": "someone"}, "extra": 1}).article
    assert article.title == "t"
    assert not hasattr(article, "author")


def test_blank_to_none_and_not_null() -> None:
    assert OptionalFields.model_validate({"bio": "   "}).bio is None
    assert OptionalFields.model_validate({"bio": " x "}).bio == " x "
    assert OptionalFields.model_validate({}).name == "kept"
    assert errors_of(OptionalFields, {"name": None}) == {"name": [BLANK]}
