"""Profiles and follows."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag
from sqlalchemy import delete

from conduit.profiles.models import Follow
from conduit.profiles.queries import find_user, profile_json, profile_view
from conduit.profiles.schemas import ProfileResponse, UsernamePath
from conduit.storage.database import insert_ignoring_duplicates, session
from conduit.users.auth import auth_optional, auth_required, current_user, requires, viewer_id
from conduit.users.models import Permission, User
from conduit.web.errors import ApiError, not_found
from conduit.web.http_cache import revalidated
from conduit.web.openapi import TOKEN, responses

bp = APIBlueprint("profiles", __name__, url_prefix="/api", abp_tags=[Tag(name="Profile")])


def _profile_or_404(username: str) -> User:
    user = find_user(session(), username)
    if user is None:
        raise not_found("profile")
    return user


@bp.get(
    "/profiles/<username>",
    responses=responses(200, ProfileResponse, 401, 404),
    operation_id="GetProfileByUsername",
)
@auth_optional
def get_profile(path: UsernamePath) -> Response:
    """A user's public profile; ``following`` tells whether the caller follows them. Sends an ETag; a
    matching ``If-None-Match`` gets 304. One statement, with or without a token."""
    viewer = viewer_id()
    profile = profile_view(session(), viewer, path.username)
    if profile is None:
        raise not_found("profile")
    return revalidated({"profile": profile}, personal=viewer is not None)


@bp.post(
    "/profiles/<username>/follow",
    responses=responses(200, ProfileResponse, 401, 403, 404),
    security=TOKEN,
    operation_id="FollowUserByUsername",
)
@requires(Permission.FOLLOW)
def follow(path: UsernamePath) -> dict[str, Any]:
    """Follow a user (following twice is the same as once)."""
    me = current_user()
    user = _profile_or_404(path.username)
    if user.id == me.id:
        raise ApiError(422, {"profile": ["cannot follow yourself"]})
    db = session()
    insert_ignoring_duplicates(db, Follow, [{"follower_id": me.id, "followee_id": user.id}])
    db.commit()
    return {"profile": profile_json(user, True)}


@bp.delete(
    "/profiles/<username>/follow",
    responses=responses(200, ProfileResponse, 401, 404),
    security=TOKEN,
    operation_id="UnfollowUserByUsername",
)
@auth_required
def unfollow(path: UsernamePath) -> dict[str, Any]:
    """Stop following a user (a no-op when not following)."""
    me = current_user()
    user = _profile_or_404(path.username)
    db = session()
    db.execute(delete(Follow).where(Follow.follower_id == me.id, Follow.followee_id == user.id))
    db.commit()
    return {"profile": profile_json(user, False)}
