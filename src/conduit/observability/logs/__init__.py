"""Logging for the app, the CLI and gunicorn: one set of handlers, chosen by the settings, on the root logger.

:class:`LogSinks` (built from the settings) decides which handlers exist and :func:`build_handlers` makes
them; both :func:`configure_logging` (the app and the CLI, through ``create_app``) and
:func:`gunicorn_logconfig` (``deploy/gunicorn.conf.py``) go through them, so gunicorn's master and workers,
the app and the CLI write the same lines to the same places. gunicorn's loggers only propagate to root.

Sinks: stderr (never stdout: seed 004), a file in ``LOG_DIR``, syslog, and e-mail for ERROR and above.
Formats: readable text (development) or JSON lines (production). Every line written while serving a
request carries its request id, and the user id when the request is authenticated; each request ends with
one line on ``conduit.request`` (method, path, status, duration, client address).
"""

from conduit.observability.logs.gunicorn import gunicorn_logconfig
from conduit.observability.logs.requests import init_app
from conduit.observability.logs.sinks import LOG_FILE_NAME, REQUEST_LOGGER, configure_logging, reset_logging

__all__ = [
    "LOG_FILE_NAME",
    "REQUEST_LOGGER",
    "configure_logging",
    "gunicorn_logconfig",
    "init_app",
    "reset_logging",
]
