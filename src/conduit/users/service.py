"""Accounts: the one place that validates, creates and promotes them. The API (registration),
``conduit create-admin`` and ``conduit seed`` all go through here, so an account the CLI makes obeys the
API's rules: the same username and e-mail checks, case-insensitive uniqueness, the password minimum.

Errors are :class:`ApiError` in the RealWorld shape (``{"username": ["has already been taken"]}``); the
CLI prints them as one line (:func:`describe_error`).

Two rules of issue 14, finding 11 live here for every path: a password on the common-passwords list is
refused with 422 when PASSWORD_BLOCKLIST is on (:func:`refuse_common_password`), and a username whose
confusable skeleton (:mod:`conduit.users.lookalikes`) another account's shares is taken (409).
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conduit.extensions import current_settings
from conduit.security import passwords
from conduit.users import common_passwords
from conduit.users.lookalikes import skeleton
from conduit.users.models import Role, User
from conduit.users.queries import ADMINISTRATOR, role_named
from conduit.users.schemas import NewUser
from conduit.web.errors import ApiError
from conduit.web.validation import errors_from_validation


def validated(username: str, email: str, password: str) -> NewUser:
    """The account as the API would accept it at registration, or a 422 :class:`ApiError`."""
    try:
        account = NewUser.model_validate({"username": username, "email": email, "password": password})
    except ValidationError as exc:
        raise ApiError(422, errors_from_validation(exc)) from None
    refuse_common_password(account.password)
    return account


def refuse_common_password(password: str) -> None:
    """A 422 :class:`ApiError` for a password on the common-passwords list, when PASSWORD_BLOCKLIST is on."""
    if current_settings().password_blocklist and common_passwords.is_common(password):
        raise ApiError(422, {"password": ["is too common; choose another"]})


def conflicts(db: Session, username: str | None, email: str | None, exclude: int | None = None) -> None:
    """A 409 :class:`ApiError` naming each of *username* and *email* (in any case) another account holds;
    a username that looks like another account's (the same confusable skeleton) is taken too."""
    errors: dict[str, list[str]] = {}
    for field, column, value in (("username", User.username, username), ("email", User.email, email)):
        if value is None:
            continue
        same = func.lower(column) == value.lower()
        if field == "username":
            same = same | (User.username_skeleton == skeleton(value))
        query = select(User.id).where(same, User.id != (exclude or 0))
        if db.scalar(query) is not None:
            errors[field] = ["has already been taken"]
    if errors:
        raise ApiError(409, errors)


def commit_account(db: Session, username: str, email: str, exclude: int | None = None) -> None:
    """Commit; a unique violation that slipped past the check (a concurrent request) is still a 409."""
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        conflicts(db, username, email, exclude)
        raise


def create_account(db: Session, account: NewUser, role: Role | None) -> User:
    """Insert a validated, non-conflicting account with *role*, and commit.

    The password is hashed before the conflict check, so a taken e-mail costs as much time as a new one:
    the answer's timing does not tell which addresses have an account (issue 14, finding 11). The 409
    itself still does, as the RealWorld spec requires it."""
    refuse_common_password(account.password)
    password_hash = passwords().hash(account.password)
    conflicts(db, account.username, account.email)
    user = User(username=account.username, email=account.email, password_hash=password_hash, role=role)
    db.add(user)
    commit_account(db, account.username, account.email)
    return user


def administrator_role(db: Session) -> Role:
    role = role_named(db, ADMINISTRATOR)
    if role is None:
        raise ApiError(503, {"roles": ["do not exist yet; run `conduit deploy` first"]})
    return role


def describe_error(error: ApiError) -> str:
    """One line for a terminal: ``username has already been taken; email is invalid``."""
    return "; ".join(f"{field} {' and '.join(messages)}" for field, messages in error.errors.items())
