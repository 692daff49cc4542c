"""Every table, imported in one place so that ``Base.metadata`` is complete (Alembic reads it)."""

from conduit.articles.models import Article, Favorite
from conduit.comments.models import Comment
from conduit.profiles.models import Follow
from conduit.storage.database import Base
from conduit.tags.models import ArticleTag, Tag
from conduit.users.models import Permission, Role, User

__all__ = [
    "Article",
    "ArticleTag",
    "Base",
    "Comment",
    "Favorite",
    "Follow",
    "Permission",
    "Role",
    "Tag",
    "User",
]
