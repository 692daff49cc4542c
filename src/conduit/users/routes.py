"""Registration, login and the current user."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag

from conduit.observability import metrics
from conduit.security import passwords, tokens
from conduit.storage.database import session
from conduit.users.auth import auth_required, current_user, revoke_other_tokens, tokens_changed
from conduit.users.lookalikes import skeleton
from conduit.users.models import User
from conduit.users.queries import default_role, find_by_email
from conduit.users.schemas import LoginUserRequest, NewUserRequest, UpdateUserRequest, UserResponse
from conduit.users.service import commit_account, conflicts, create_account, refuse_common_password
from conduit.users.signals import profile_changed
from conduit.web.errors import ApiError
from conduit.web.openapi import TOKEN, responses

bp = APIBlueprint("users", __name__, url_prefix="/api", abp_tags=[Tag(name="User and Authentication")])


def user_json(user: User, token: str) -> dict[str, Any]:
    return {
        "user": {
            "email": user.email,
            "token": token,
            "username": user.username,
            "bio": user.bio,
            "image": user.image,
        }
    }


@bp.post("/users", responses=responses(201, UserResponse, 409), operation_id="CreateUser")
def register(body: NewUserRequest) -> tuple[dict[str, Any], int]:
    """Register a new user."""
    db = session()
    user = create_account(db, body.user, default_role(db))  # never a grant: no visitor action leads to a role
    metrics.USERS_REGISTERED.inc()
    return user_json(user, tokens().issue(user)), 201


@bp.post("/users/login", responses=responses(200, UserResponse, 401), operation_id="Login")
def login(body: LoginUserRequest) -> dict[str, Any]:
    """Log in with e-mail and password; answers with a fresh token."""
    db = session()
    user = find_by_email(db, body.user.email)
    hasher = passwords()
    if not hasher.verify(user.password_hash if user else None, body.user.password) or user is None:
        raise ApiError(401, {"credentials": ["invalid"]})
    if hasher.needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(body.user.password)
        db.commit()
    return user_json(user, tokens().issue(user))


@bp.get("/user", responses=responses(200, UserResponse, 401), security=TOKEN, operation_id="GetCurrentUser")
@auth_required
def get_current_user() -> dict[str, Any]:
    """The logged-in user, with the token the request was made with."""
    return user_json(current_user(), g.token)


@bp.put(
    "/user",
    responses=responses(200, UserResponse, 401, 409),
    security=TOKEN,
    operation_id="UpdateCurrentUser",
)
@auth_required
def update_current_user(body: UpdateUserRequest) -> dict[str, Any]:
    """Change any of username, email, password, bio and image; at least one must be sent."""
    user = current_user()
    data = body.user
    sent = data.model_fields_set
    if not sent:
        raise ApiError(422, {"user": ["must contain at least one of username, email, password, bio, image"]})
    if "password" in sent:
        refuse_common_password(data.password)
    db = session()
    # The name as it is needs no check: the settings page sends it with every change, and an account
    # that already looked like an older one before migration 0005 must still be able to edit its bio.
    renamed = "username" in sent and data.username != user.username
    conflicts(
        db,
        data.username if renamed else None,
        data.email if "email" in sent else None,
        exclude=user.id,
    )
    if renamed:
        user.username = data.username
        user.username_skeleton = skeleton(data.username)
    if "email" in sent:
        user.email = data.email
    if "password" in sent:
        user.password_hash = passwords().hash(data.password)
        revoke_other_tokens(user)
    if "bio" in sent:
        user.bio = data.bio
    if "image" in sent:
        user.image = data.image
    commit_account(db, user.username, user.email, exclude=user.id)
    if "password" in sent:
        tokens_changed(user.id)
    if renamed or sent & {"bio", "image"}:
        profile_changed.send(user.id)
    return user_json(user, g.token)
