"""What every record written while serving a request carries: the request id and the user id."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context


def _current_user_id() -> Any:
    """The authenticated user's id, read from the identity map: never a query (the session may be gone)."""
    user = g.get("current_user")
    if user is None:
        return None
    state = sa.inspect(user, raiseerr=False)
    identity = getattr(state, "identity", None)
    return identity[0] if identity else None


class RequestContextFilter(logging.Filter):
    """Put the request id (``-`` outside a request) and, when known, the user id on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        if not hasattr(record, "user_id") and has_request_context():
            user_id = _current_user_id()
            if user_id is not None:
                record.user_id = user_id
        return True
