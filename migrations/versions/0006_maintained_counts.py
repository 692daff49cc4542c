"""Maintained counts (issue 16): the number of articles and each tag's number of articles, kept by triggers.

``GET /api/articles`` returns ``articlesCount``, the number of articles that match. Unfiltered, that was
``count(*)`` over every article: at 1,000,000 articles a list request cost 13 times its CPU on 10,000
(the only sequential scan of a large table on a read path). ``row_counts`` now holds the number of
``articles`` and ``tags.articles_count`` the number of ``article_tags`` rows of each tag, which also lets
``GET /api/tags`` read its 50 most used tags from an index instead of grouping every ``article_tags`` row.

Triggers keep both, so every way a row goes counts: the API's writes, a user's deletion cascading to their
articles, an article's deletion cascading to its tags, ``COPY`` and ``psql``. On PostgreSQL they are
statement triggers over transition tables (one UPDATE per statement, a 1,000,000-row ``COPY`` included) and
a ``TRUNCATE`` resets the counts; on SQLite, row triggers. A missing ``row_counts`` row counts as 0 and is
created by the next insert (an upsert), so emptying ``row_counts`` with the other tables is harmless.

Writers serialise until they commit: every write that adds or removes an article or a tagging takes the
``articles`` row of ``row_counts`` first (the tag trigger locks it before its tags), so all of them lock
in one order and two writers cannot deadlock, whichever way (a create, an edit, a delete's cascade) they
come.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRESQL = [
    """
    CREATE FUNCTION conduit_count_articles() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        change bigint;
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            DELETE FROM row_counts WHERE name = 'articles';
            RETURN NULL;
        ELSIF TG_OP = 'INSERT' THEN
            SELECT count(*) INTO change FROM new_rows;
        ELSE
            SELECT -count(*) INTO change FROM old_rows;
        END IF;
        IF change <> 0 THEN
            INSERT INTO row_counts AS counted (name, value) VALUES ('articles', change)
            ON CONFLICT (name) DO UPDATE SET value = counted.value + excluded.value;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION conduit_count_tag_uses() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            UPDATE tags SET articles_count = 0 WHERE articles_count <> 0;
            RETURN NULL;
        END IF;
        PERFORM 1 FROM row_counts WHERE name = 'articles' FOR UPDATE;
        IF TG_OP = 'INSERT' THEN
            UPDATE tags SET articles_count = tags.articles_count + changed.n
            FROM (SELECT tag_id, count(*) AS n FROM new_rows GROUP BY tag_id) AS changed
            WHERE tags.id = changed.tag_id;
        ELSE
            UPDATE tags SET articles_count = tags.articles_count - changed.n
            FROM (SELECT tag_id, count(*) AS n FROM old_rows GROUP BY tag_id) AS changed
            WHERE tags.id = changed.tag_id;
        END IF;
        RETURN NULL;
    END $$
    """,
]

#: (table, function): each table's INSERT, DELETE and TRUNCATE triggers on PostgreSQL.
COUNTED = {"articles": "conduit_count_articles", "article_tags": "conduit_count_tag_uses"}
TRANSITION = {"insert": " REFERENCING NEW TABLE AS new_rows", "delete": " REFERENCING OLD TABLE AS old_rows"}


def postgresql_triggers() -> list[str]:
    return [
        f"CREATE TRIGGER {table}_counted_{event} AFTER {event.upper()} ON {table}"
        f"{TRANSITION.get(event, '')} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        for table, function in COUNTED.items()
        for event in ("insert", "delete", "truncate")
    ]


SQLITE_UPSERT = (
    "INSERT INTO row_counts (name, value) VALUES ('articles', {change}) "
    "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
)
SQLITE_TAG = "UPDATE tags SET articles_count = articles_count {sign} 1 WHERE id = {row}.tag_id"
SQLITE = [
    "CREATE TRIGGER articles_counted_insert AFTER INSERT ON articles BEGIN "
    f"{SQLITE_UPSERT.format(change=1)}; END",
    "CREATE TRIGGER articles_counted_delete AFTER DELETE ON articles BEGIN "
    f"{SQLITE_UPSERT.format(change=-1)}; END",
    f"CREATE TRIGGER article_tags_counted_insert AFTER INSERT ON article_tags BEGIN "
    f"{SQLITE_TAG.format(sign='+', row='NEW')}; END",
    f"CREATE TRIGGER article_tags_counted_delete AFTER DELETE ON article_tags BEGIN "
    f"{SQLITE_TAG.format(sign='-', row='OLD')}; END",
]

BACKFILL = [
    "INSERT INTO row_counts (name, value) SELECT 'articles', count(*) FROM articles",
    "UPDATE tags SET articles_count = "
    "(SELECT count(*) FROM article_tags WHERE article_tags.tag_id = tags.id)",
]


def upgrade() -> None:
    op.create_table(
        "row_counts",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.add_column("tags", sa.Column("articles_count", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_tags_articles_count_id", "tags", ["articles_count", "id"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # The counts must match the rows they count from the moment the triggers exist.
        op.execute("LOCK TABLE articles, article_tags IN SHARE MODE")
    for statement in BACKFILL:
        op.execute(statement)
    for statement in POSTGRESQL + postgresql_triggers() if postgresql else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in COUNTED:
        for event in ("insert", "delete", "truncate"):
            op.execute(
                f"DROP TRIGGER IF EXISTS {table}_counted_{event}" + (f" ON {table}" if postgresql else "")
            )
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS conduit_count_articles()")
        op.execute("DROP FUNCTION IF EXISTS conduit_count_tag_uses()")
    op.drop_index("ix_tags_articles_count_id", table_name="tags")
    op.drop_column("tags", "articles_count")
    op.drop_table("row_counts")
