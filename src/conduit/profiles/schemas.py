from __future__ import annotations

from pydantic import BaseModel, Field


class Profile(BaseModel):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ProfileResponse(BaseModel):
    profile: Profile


class UsernamePath(BaseModel):
    username: str = Field(max_length=255)
