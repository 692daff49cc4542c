"""Lookups of accounts and roles shared by the API, the CLI and the deploy task."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conduit.users.models import Role, User

ADMINISTRATOR = "Administrator"


def find_by_email(db: Session, email: str) -> User | None:
    """The account with this e-mail, whatever its case (served by the ``lower(email)`` index)."""
    return db.scalars(select(User).where(func.lower(User.email) == email.lower())).first()


def role_named(db: Session, name: str) -> Role | None:
    return db.scalars(select(Role).where(Role.name == name)).first()


def default_role(db: Session) -> Role | None:
    return db.scalars(select(Role).where(Role.default.is_(True))).first()
