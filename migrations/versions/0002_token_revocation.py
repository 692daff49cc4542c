"""Token revocation on a password change: users.token_version and users.kept_token_id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, not batch mode: SQLite adds and (since 3.35) drops columns in place, while a batch
# copy of the table would lose the expression indexes on lower(email) and lower(username).


def upgrade() -> None:
    op.add_column("users", sa.Column("token_version", sa.Integer(), server_default="0", nullable=False))
    op.add_column("users", sa.Column("kept_token_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "kept_token_id")
    op.drop_column("users", "token_version")
