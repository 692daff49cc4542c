from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from conduit.web.validation import BLANK, BlankToNone, RequestModel, RequiredText

USERNAME_MAX = 64
PASSWORD_MIN = 8
PASSWORD_MAX = 256


def _check_username(value: str) -> str:
    # NFKC first (issue 14, finding 11): fullwidth "alice" (U+FF41 ...) and other compatibility forms
    # become the name they look like, so they meet the case-insensitive uniqueness check as it (409).
    value = unicodedata.normalize("NFKC", value)
    if len(value) > USERNAME_MAX:  # NFKC can lengthen a name ("\ufdfa" is 18 characters)
        raise PydanticCustomError("username", f"is too long (maximum is {USERNAME_MAX} characters)")
    if not all(ch.isalnum() or ch in "_.-" for ch in value):
        raise PydanticCustomError(
            "username", "may contain only letters, digits, underscores, hyphens and periods"
        )
    return value


def _check_email(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise PydanticCustomError("email", "is invalid") from None
    return value


def _password_present(value: Any) -> Any:
    if value is None or value == "":
        raise PydanticCustomError("blank", BLANK)
    return value


def _check_url(value: str | None) -> str | None:
    if value is not None and not (value.startswith(("https://", "http://")) and "." in value.split("/")[2]):
        raise PydanticCustomError("url", "must be an http(s) URL")
    return value


#: The OpenAPI document states the rules the validators enforce (``json_schema_extra``), so that clients
#: and fuzzers know them; the validators keep the RealWorld messages.
Username = Annotated[
    RequiredText,
    Field(max_length=USERNAME_MAX, json_schema_extra={"pattern": r"^[\w.-]+$"}),
    AfterValidator(_check_username),
]
Email = Annotated[
    RequiredText, Field(max_length=254, json_schema_extra={"format": "email"}), AfterValidator(_check_email)
]
#: NIST SP 800-63B: at least 8 characters, long passphrases accepted, no composition rules.
NewPassword = Annotated[
    str, BeforeValidator(_password_present), Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
]
Bio = Annotated[Annotated[str, Field(max_length=10_000)] | None, BlankToNone]
ImageUrl = Annotated[
    Annotated[str, Field(max_length=2048, json_schema_extra={"pattern": r"^$|^https?://[^/]*\."})] | None,
    BlankToNone,
    AfterValidator(_check_url),
]


class NewUser(RequestModel):
    username: Username
    email: Email
    password: NewPassword


class NewUserRequest(RequestModel):
    user: NewUser


class LoginUser(RequestModel):
    email: RequiredText
    password: Annotated[str, BeforeValidator(_password_present), Field(min_length=1, max_length=PASSWORD_MAX)]


class LoginUserRequest(RequestModel):
    user: LoginUser


class UpdateUser(RequestModel):
    """Every field is optional; a field that is sent is validated (``null`` only for bio and image)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    username: Username = ""
    email: Email = ""
    password: NewPassword = ""
    bio: Bio = None
    image: ImageUrl = None


class UpdateUserRequest(RequestModel):
    user: UpdateUser


class User(BaseModel):
    email: str
    token: str
    username: str
    bio: str | None
    image: str | None


class UserResponse(BaseModel):
    user: User
