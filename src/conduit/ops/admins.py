"""Granting the Administrator role: only an operator, on this machine, naming the account exactly.

No visitor action leads to a role grant (issue 14, finding 1): e-mail addresses are never verified, so
an account found by e-mail may belong to whoever registered that address first. ``create-admin --email``
therefore creates a new account and refuses when the e-mail or username is taken; an existing account
is promoted only when named by its exact username and confirmed after being shown.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conduit.users.models import Role, User
from conduit.users.queries import find_by_email
from conduit.users.service import administrator_role, create_account, describe_error, validated
from conduit.web.errors import ApiError


class AdminError(Exception):
    """A refusal, one line for the operator."""


def _admin_role(db: Session) -> Role:
    try:
        return administrator_role(db)
    except ApiError as exc:
        raise AdminError(describe_error(exc)) from None


def _describe(user: User) -> str:
    role = user.role.name if user.role is not None else "no role"
    return f"{user.username} <{user.email}> (registered {user.created_at:%Y-%m-%d %H:%M} UTC, role {role})"


def create_administrator(
    db: Session, *, email: str, username: str | None, password: Callable[[], str]
) -> None:
    admin = _admin_role(db)
    name = username or email.split("@", 1)[0]
    by_email = find_by_email(db, email)
    by_name = db.scalars(select(User).where(func.lower(User.username) == name.lower())).first()
    if by_email is not None and by_email is by_name and by_email.role_id == admin.id:
        click.echo(f"create-admin: {_describe(by_email)} is already an administrator; nothing to do")
        return
    taken = by_email or by_name
    if taken is not None:
        what = f"e-mail {email}" if by_email is not None else f"username {name!r} (pass another --username)"
        raise AdminError(
            f"an account already has the {what}: {_describe(taken)}; it was not promoted. To make "
            "that account an administrator, check it is yours and run: "
            f"conduit create-admin --promote {taken.username}"
        )
    try:
        account = validated(name, email, password())
        create_account(db, account, admin)
    except ApiError as exc:  # the API's rules: a username or e-mail it would refuse, a short password
        raise AdminError(describe_error(exc)) from None
    click.echo(f"create-admin: created administrator {name} <{email}>")


def promote_account(db: Session, username: str, *, confirm: Callable[[str], bool] | None) -> None:
    """Promote the account with exactly *username* (no case folding), after *confirm* says yes."""
    admin = _admin_role(db)
    user = db.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise AdminError(f"no account has the username {username!r} (exact spelling and case)")
    if user.role_id == admin.id:
        click.echo(f"create-admin: {_describe(user)} is already an administrator; nothing to do")
        return
    if confirm is not None and not confirm(_describe(user)):
        raise AdminError("not confirmed; nothing changed")
    user.role = admin
    db.commit()
    click.echo(f"create-admin: {_describe(user)} is now an administrator")
