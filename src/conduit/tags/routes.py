from __future__ import annotations

from flask import Response
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag
from pydantic import BaseModel

from conduit.extensions import current_settings
from conduit.storage.database import session
from conduit.tags.cache import cached_tags
from conduit.tags.queries import used_tags
from conduit.web.http_cache import shared_for_a_while
from conduit.web.openapi import responses

bp = APIBlueprint("tags", __name__, url_prefix="/api", abp_tags=[Tag(name="Tags")])


class TagsResponse(BaseModel):
    tags: list[str]


@bp.get("/tags", responses=responses(200, TagsResponse), operation_id="GetTags")
def get_tags() -> Response:
    """The most used tags (TAGS_SHOWN, 50), sorted. Clients may reuse the list for 30 s, then revalidate
    with its ETag."""
    most = current_settings().tags_shown
    return shared_for_a_while({"tags": cached_tags(lambda: used_tags(session(), most))})
