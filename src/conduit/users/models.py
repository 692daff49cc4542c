"""Users and Flasky-style roles: each role is a set of permission bits."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func, select
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from conduit.storage.database import Base, UTCDateTime, utcnow
from conduit.users.lookalikes import skeleton


class Permission(enum.IntFlag):
    FOLLOW = 1
    COMMENT = 2
    WRITE = 4
    MODERATE = 8
    ADMIN = 16


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    default: Mapped[bool] = mapped_column(default=False, index=True)
    permissions: Mapped[int] = mapped_column(Integer, default=0)

    #: name -> (permissions, is the default role for new accounts). A Reader may read and change their
    #: own account, nothing else: the role an operator gives a banned or read-only account.
    ROLES: dict[str, tuple[Permission, bool]] = {  # noqa: RUF012
        "Reader": (Permission(0), False),
        "User": (Permission.FOLLOW | Permission.COMMENT | Permission.WRITE, True),
        "Moderator": (Permission.FOLLOW | Permission.COMMENT | Permission.WRITE | Permission.MODERATE, False),
        "Administrator": (
            Permission.FOLLOW
            | Permission.COMMENT
            | Permission.WRITE
            | Permission.MODERATE
            | Permission.ADMIN,
            False,
        ),
    }

    @classmethod
    def insert_roles(cls, session: Session) -> list[str]:
        """Create or correct the three roles; return a description of each change (empty: no change)."""
        changes: list[str] = []
        existing = {role.name: role for role in session.scalars(select(cls))}
        for name, (permissions, default) in cls.ROLES.items():
            role = existing.get(name)
            if role is None:
                session.add(cls(name=name, permissions=int(permissions), default=default))
                changes.append(f"created role {name}")
            elif role.permissions != int(permissions) or role.default != default:
                role.permissions = int(permissions)
                role.default = default
                changes.append(f"updated role {name}")
        session.flush()
        return changes

    def has(self, permission: Permission) -> bool:
        return self.permissions & permission == permission


def _skeleton_of_username(context: DefaultExecutionContext) -> str:
    username: str = context.get_current_parameters()["username"]  # type: ignore[no-untyped-call]
    return skeleton(username)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    #: The username's confusable skeleton (users.lookalikes), unique: ``\u0430lice`` (Cyrillic a, U+0430)
    #: cannot sit beside ``alice``. Computed on insert, set again on a username change (users.routes);
    #: NULL only for an account that already looked like an older one when migration 0005 ran.
    username_skeleton: Mapped[str | None] = mapped_column(
        Text, unique=True, index=True, default=_skeleton_of_username
    )
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    bio: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(String(2048))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("roles.id", ondelete="SET NULL"), index=True)
    #: Tokens carry the version current when they were issued; a password change increments it, which
    #: revokes every token but the one that made the change (``kept_token_id``, its ``jti``).
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    kept_token_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    role: Mapped[Role | None] = relationship(lazy="joined")

    def can(self, permission: Permission) -> bool:
        if self.role is None:
            return bool(Role.ROLES["User"][0] & permission == permission)
        return self.role.has(permission)


# Case-insensitive uniqueness: "Alice" cannot register beside "alice", nor "A@x.io" beside "a@x.io".
# The e-mail index is also the one login's lookup uses.
Index("uq_users_email_lower", func.lower(User.email), unique=True)
Index("uq_users_username_lower", func.lower(User.username), unique=True)
