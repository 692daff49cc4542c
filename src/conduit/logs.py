"""Logging to stderr (never stdout: seed 004) with the request id on every line written during a request."""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Mapping

from flask import Flask, Response, g, has_request_context, request

from conduit.settings import Settings

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] [%(request_id)s] %(message)s"
_HANDLER_NAME = "conduit-stderr"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class GunicornAccessFilter(logging.Filter):
    """Give gunicorn's access records the request id, taken from the response header the app set, so
    an access line has the same shape as the app's lines (gunicorn logs it after the request context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args if isinstance(record.args, Mapping) else {}
        record.request_id = atoms.get("{x-request-id}o") or "-"
        return True


def configure_logging(settings: Settings) -> None:
    """Install one stderr handler on the root logger (idempotent: safe for every app the process makes)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.getLogger("conduit").setLevel(settings.log_level)


def _assign_request_id() -> None:
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if _VALID_REQUEST_ID.match(sent) else uuid.uuid4().hex


def _echo_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "-")
    return response


def init_app(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)
