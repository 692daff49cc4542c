from __future__ import annotations

from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag
from pydantic import BaseModel

from conduit.api import responses
from conduit.db import session
from conduit.tags.cache import cached_tags
from conduit.tags.queries import used_tags

bp = APIBlueprint("tags", __name__, url_prefix="/api", abp_tags=[Tag(name="Tags")])


class TagsResponse(BaseModel):
    tags: list[str]


@bp.get("/tags", responses=responses(200, TagsResponse), operation_id="GetTags")
def get_tags() -> dict[str, list[str]]:
    """Every tag in use, sorted."""
    return {"tags": cached_tags(lambda: used_tags(session()))}
