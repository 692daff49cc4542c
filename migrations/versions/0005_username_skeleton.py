"""Look-alike usernames: ``users.username_skeleton``, the confusable skeleton of the username, unique.

Issue 14, finding 11: ``\u0430lice`` (Cyrillic a, U+0430) could register beside ``alice``. The column holds
:func:`conduit.users.lookalikes.skeleton` of each username, and its unique index refuses a second account
whose name looks the same. Existing rows are backfilled here; when two existing accounts already look
alike, the older one (lowest id) keeps the skeleton and the newer ones get NULL (a unique index allows
any number of NULLs on SQLite and PostgreSQL): they keep their names, and nobody may register a third.

Chained after 0004 (issue 16's article counters, written on another branch at the same time).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from conduit.users.lookalikes import skeleton

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERS = sa.table(
    "users", sa.column("id", sa.Integer), sa.column("username", sa.String), sa.column("username_skeleton")
)


def upgrade() -> None:
    # ADD COLUMN (nullable, no default) is a plain ALTER on both databases: no batch copy on SQLite.
    op.add_column("users", sa.Column("username_skeleton", sa.Text(), nullable=True))
    bind = op.get_bind()
    keys: dict[str, int] = {}
    for user_id, username in bind.execute(sa.select(USERS.c.id, USERS.c.username).order_by(USERS.c.id)):
        keys.setdefault(skeleton(username), user_id)  # a later look-alike is grandfathered: NULL
    if keys:
        bind.execute(
            USERS.update()
            .where(USERS.c.id == sa.bindparam("user_id"))
            .values(username_skeleton=sa.bindparam("key")),
            [{"user_id": user_id, "key": key} for key, user_id in keys.items()],
        )
    op.create_index("ix_users_username_skeleton", "users", ["username_skeleton"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_username_skeleton", table_name="users")
    # Plain ALTER TABLE, as in 0002: a batch copy on SQLite would lose the expression indexes.
    op.drop_column("users", "username_skeleton")
