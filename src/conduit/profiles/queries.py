from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from conduit.profiles.models import Follow
from conduit.users.models import User


def find_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).one_or_none()


def is_following(session: Session, follower_id: int | None, followee: User) -> bool:
    if follower_id is None or follower_id == followee.id:
        return False
    query = select(exists().where(Follow.follower_id == follower_id, Follow.followee_id == followee.id))
    return bool(session.scalar(query))


def profile_json(user: User, following: bool) -> dict[str, object]:
    return {"username": user.username, "bio": user.bio, "image": user.image, "following": following}
