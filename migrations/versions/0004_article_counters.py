"""The page query reads an article's favourite count and tags from its own row (issue 16).

``articles.favorites_count`` (kept by the writes that add or remove a favourite, in their transaction)
and ``articles.tag_names`` (the sorted tag names as a JSON array, written with ``article_tags``), both
backfilled here from ``favorites`` and ``article_tags``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ALTER TABLE, as in 0002 (no batch copy on SQLite, which would lose expression indexes). The
# backfill is one UPDATE per column; on PostgreSQL it rewrites every article row once (about 20 s for
# 1,000,000 articles and 5,000,000 favourites on the 2-core machine) and holds its row locks until commit.

FAVORITES = (
    "UPDATE articles SET favorites_count = counted.n FROM "
    "(SELECT article_id, count(*) AS n FROM favorites GROUP BY article_id) AS counted "
    "WHERE counted.article_id = articles.id"
)
TAGS_POSTGRESQL = (
    "UPDATE articles SET tag_names = named.names FROM "
    "(SELECT at.article_id, json_agg(t.name ORDER BY t.name)::text AS names "
    "FROM article_tags at JOIN tags t ON t.id = at.tag_id GROUP BY at.article_id) AS named "
    "WHERE named.article_id = articles.id"
)
# SQLite: json_group_array keeps the order of its input rows, sorted by the inner query.
FAVORITES_SQLITE = (
    "UPDATE articles SET favorites_count = "
    "(SELECT count(*) FROM favorites WHERE favorites.article_id = articles.id) "
    "WHERE id IN (SELECT article_id FROM favorites)"
)
TAGS_SQLITE = (
    "UPDATE articles SET tag_names = (SELECT json_group_array(name) FROM "
    "(SELECT t.name AS name FROM article_tags at JOIN tags t ON t.id = at.tag_id "
    "WHERE at.article_id = articles.id ORDER BY t.name)) "
    "WHERE id IN (SELECT article_id FROM article_tags)"
)


def upgrade() -> None:
    op.add_column("articles", sa.Column("favorites_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("articles", sa.Column("tag_names", sa.Text(), server_default="[]", nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FAVORITES)
        op.execute(TAGS_POSTGRESQL)
    else:
        op.execute(FAVORITES_SQLITE)
        op.execute(TAGS_SQLITE)


def downgrade() -> None:
    op.drop_column("articles", "tag_names")
    op.drop_column("articles", "favorites_count")
