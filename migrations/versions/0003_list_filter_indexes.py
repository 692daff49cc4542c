"""Article lists filtered by author (and the feed) read their page from the index in list order.

``ix_articles_author_id_created_at`` becomes ``(author_id, created_at, id)``, the list's order (newest
first, id breaks ties), so that PostgreSQL takes an author's page straight from the index without a sort
step. The filters by tag and by favouriting user already have theirs (``article_tags(tag_id,
article_id)``, ``favorites``' primary key ``(user_id, article_id)``); names resolve through the unique
indexes on ``tags.name`` and ``users.username``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain CREATE/DROP INDEX, as in 0002: no batch copy of the table on SQLite. On PostgreSQL the build
# locks writes to articles for its duration (about a second per 100,000 articles on the 2-core machine).


def upgrade() -> None:
    op.create_index(
        "ix_articles_author_id_created_at_id", "articles", ["author_id", "created_at", "id"], unique=False
    )
    op.drop_index("ix_articles_author_id_created_at", table_name="articles")


def downgrade() -> None:
    op.create_index("ix_articles_author_id_created_at", "articles", ["author_id", "created_at"], unique=False)
    op.drop_index("ix_articles_author_id_created_at_id", table_name="articles")
