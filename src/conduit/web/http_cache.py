"""HTTP caching of reads. Articles and profiles carry a strong ETag of their body, so a client that sends
``If-None-Match`` gets a body-less 304 when nothing changed; they depend on the caller (``favorited``,
``following``), hence ``Vary: Authorization`` and ``private`` when a token came. The tag list, the same
for everyone, may be kept for a short while."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

#: Seconds a client may reuse the tag list without asking; afterwards it revalidates with its ETag.
TAGS_MAX_AGE = 30


def _json(payload: dict[str, Any]) -> Response:
    response: Response = current_app.json.response(payload)  # type: ignore[assignment]
    response.add_etag()
    return response


def revalidated(payload: dict[str, Any], *, personal: bool) -> Response:
    """*payload* as JSON that caches must revalidate; 304 when the client's ETag still matches."""
    response = _json(payload)
    response.headers["Cache-Control"] = "private, no-cache" if personal else "no-cache"
    response.vary.add("Authorization")
    response.make_conditional(request)
    return response


def shared_for_a_while(payload: dict[str, Any], seconds: int = TAGS_MAX_AGE) -> Response:
    response = _json(payload)
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    response.make_conditional(request)
    return response
