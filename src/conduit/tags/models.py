from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from conduit.storage.database import Base, UTCDateTime


class Tag(Base):
    __tablename__ = "tags"
    #: The most used tags first (``GET /api/tags``), from the index alone.
    __table_args__ = (Index("ix_tags_articles_count_id", "articles_count", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: The tag's ``article_tags`` rows, kept by triggers (migration 0006): never written by the app.
    articles_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ArticleTag(Base):
    __tablename__ = "article_tags"
    #: A tag's articles newest first, a range of this index whatever the tag's size (migration 0007).
    __table_args__ = (Index("ix_article_tags_tag_id_created_at", "tag_id", "created_at", "article_id"),)

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    #: The article's ``created_at`` (which never changes), for the index above.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
