"""One line per request on ``conduit.request``, and a request id on the request and its response."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from conduit.extensions import SETTINGS
from conduit.observability.logs.sinks import REQUEST_LOGGER

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Paths that monitors poll: their successful requests are logged only with LOG_PROBES=true.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

request_log = logging.getLogger(REQUEST_LOGGER)


def _start_request() -> None:
    g.request_started = time.perf_counter()
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if _VALID_REQUEST_ID.match(sent) else uuid.uuid4().hex


def _quiet_probe(response: Response) -> bool:
    return request.path in PROBE_PATHS and response.status_code < 400


#: Where the request line is written from, given to the record as it is: the logging module would walk
#: the stack to find it on every request (issue 16, bench/overhead.py).
_CALL_SITE = (__file__, 0, "_finish_request")
_LINE_FORMAT = '%s "%s %s %s" %s %.1fms'


def _finish_request(response: Response) -> Response:
    if "request_id" not in g:  # an earlier before_request hook refused the request before ours ran
        _start_request()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    settings = SETTINGS.find()
    if settings is None or (settings.log_requests and (settings.log_probes or not _quiet_probe(response))):
        if not request_log.isEnabledFor(logging.INFO):
            return response
        duration_ms = round((time.perf_counter() - g.request_started) * 1000, 1)
        req = request._get_current_object()  # type: ignore[attr-defined]  # the proxy costs on each read
        method, path, address, status = req.method, req.path, req.remote_addr, response.status_code
        full_path = req.full_path.removesuffix("?")
        protocol = req.environ.get("SERVER_PROTOCOL", "HTTP/1.1")
        fields = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "client_ip": address,
        }
        # Logger.info without its stack walk: the same record, filters and handlers.
        record = request_log.makeRecord(
            request_log.name,
            logging.INFO,
            *_CALL_SITE[:2],
            _LINE_FORMAT,
            (address, method, full_path, protocol, status, duration_ms),
            None,
            _CALL_SITE[2],
            fields,
        )
        request_log.handle(record)
    return response


def init_app(app: Flask) -> None:
    # First of the app's before_request hooks, so even a request another hook refuses has an id, and
    # first in after_request's list, which Flask runs last: the line has the final status.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request_funcs.setdefault(None, []).insert(0, _finish_request)
