"""Profile reads. A profile as the API returns it is one SELECT: the account's columns and the viewer's
``following`` flag as a correlated subquery (a primary-key lookup in ``follows``), so a read with a token
costs the same round trip as one without."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, exists, false, select
from sqlalchemy.orm import Session

from conduit.profiles.models import Follow
from conduit.users.models import User


def find_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).one_or_none()


@lru_cache(maxsize=4)
def _profile_statement(authenticated: bool) -> Select[Any]:
    """Built once per process for each viewer shape; the username and the viewer id are bound
    parameters. Following yourself cannot be stored (the ``not_self`` check), so the subquery is false
    for your own profile without a case of its own."""
    following: ColumnElement[bool] = (
        exists().where(
            Follow.follower_id == bindparam("viewer_id", type_=Integer), Follow.followee_id == User.id
        )
        if authenticated
        else false()
    )
    columns: list[Any] = [User.username, User.bio, User.image, following.label("following")]
    return select(*columns).where(User.username == bindparam("username"))


def profile_view(db: Session, viewer_id: int | None, username: str) -> dict[str, object] | None:
    """The profile named *username* (matched exactly) as the viewer sees it; None when there is none."""
    statement = _profile_statement(viewer_id is not None)
    row = db.execute(statement, {"username": username, "viewer_id": viewer_id}).one_or_none()
    if row is None:
        return None
    return {"username": row.username, "bio": row.bio, "image": row.image, "following": bool(row.following)}


def profile_json(user: User, following: bool) -> dict[str, object]:
    return {"username": user.username, "bio": user.bio, "image": user.image, "following": following}
