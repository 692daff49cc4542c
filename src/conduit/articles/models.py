from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from conduit.storage.database import Base, UTCDateTime, utcnow


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        # The list order (newest first, id breaks ties), and the same order by author (filter, feed).
        Index("ix_articles_created_at_id", "created_at", "id"),
        Index("ix_articles_author_id_created_at_id", "author_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(300), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1000))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Kept by the writes that add or remove a favourite, in their transaction (issue 16, migration
    #: 0004): the page query reads it instead of counting ``favorites``.
    favorites_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The tag names, sorted, as a JSON array: written with ``article_tags`` by ``set_tags``, returned by
    #: the page query as is. ``article_tags`` stays the index the filter by tag and the tag list read.
    tag_names: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")


class Favorite(Base):
    __tablename__ = "favorites"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RowCount(Base):
    """Maintained counts: ``articles`` is the number of articles (``articlesCount`` of the unfiltered
    list). Kept by triggers (migration 0006), never written by the app; a missing row counts as 0."""

    __tablename__ = "row_counts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
