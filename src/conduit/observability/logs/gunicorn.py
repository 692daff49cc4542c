"""gunicorn's logging: the same handlers as the app's, through its ``logconfig_dict``."""

from __future__ import annotations

import logging
from typing import Any

from conduit.observability.logs import sinks as _sinks
from conduit.observability.logs.sinks import (
    HANDLER_PREFIX,
    REQUEST_LOGGER,
    LogSinks,
    build_handler,
    build_handlers,
)
from conduit.settings import Settings


def _handler_factory(sinks: LogSinks, sink: str) -> logging.Handler:
    """dictConfig's ``()`` for gunicorn: the handler, made when gunicorn configures its logging."""
    handler = build_handler(sinks, sink)
    _sinks.mark_installed(sinks)
    return handler


def gunicorn_logconfig(settings: Settings, gunicorn_level: str = "INFO") -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: our handlers on the root logger, gunicorn's loggers propagating to it.

    gunicorn's access logger is silent: the app writes one ``conduit.request`` line per request, with the
    user id and the request id, under any server (gunicorn, uWSGI, the CLI's test client); a second line
    per request from gunicorn would only double the volume. Each sink is opened once here, so a sink
    that cannot open stops gunicorn with one line (:class:`ConfigError`) before it configures logging.
    """
    sinks = LogSinks.from_settings(settings)
    for handler in build_handlers(sinks):
        handler.close()
    level = settings.log_level
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {},
        "filters": {},
        "handlers": {
            HANDLER_PREFIX + name: {"()": _handler_factory, "sinks": sinks, "sink": name}
            for name in sinks.names()
        },
        "root": {"level": level, "handlers": [HANDLER_PREFIX + name for name in sinks.names()]},
        "loggers": {
            "conduit": {"level": level, "handlers": [], "propagate": True},
            REQUEST_LOGGER: {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.error": {"level": gunicorn_level.upper(), "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }
