"""Where lines go (stderr, a file in ``LOG_DIR``, syslog, e-mail): one :class:`LogSinks`, built from the
settings, decides the handlers of every process (app, CLI, gunicorn's master and workers)."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from dataclasses import dataclass
from pathlib import Path

from conduit.observability.logs.context import RequestContextFilter
from conduit.observability.logs.formatters import TEXT_FORMAT, JsonFormatter, SyslogFormatter
from conduit.observability.logs.mail import MailSink, RateLimitedSMTPHandler
from conduit.settings import ConfigError, Settings

LOG_FILE_NAME = "conduit.log"
REQUEST_LOGGER = "conduit.request"
HANDLER_PREFIX = "conduit-"


@dataclass(frozen=True)
class LogSinks:
    """Where logs go and in which format: the one place that decides the handlers."""

    format: str = "text"
    stderr: bool = True
    directory: Path | None = None
    syslog_address: str | None = None
    syslog_facility: str = "user"
    mail: MailSink | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LogSinks:
        mail = None
        if settings.admins and settings.mail_server:
            mail = MailSink(
                host=settings.mail_server,
                port=settings.mail_port,
                use_tls=settings.mail_use_tls,
                username=settings.mail_username,
                password=settings.mail_password.get_secret_value() if settings.mail_password else None,
                sender=settings.mail_sender,
                admins=tuple(settings.admins),
                timeout=settings.mail_timeout,
                limit=settings.log_mail_limit,
                window_seconds=settings.log_mail_window_seconds,
            )
        return cls(
            format=settings.log_format,
            stderr=settings.log_stderr,
            directory=settings.log_dir,
            syslog_address=settings.log_syslog_address,
            syslog_facility=settings.log_syslog_facility,
            mail=mail,
        )

    def names(self) -> list[str]:
        """The sinks in use, in the order their handlers are installed."""
        wanted = {
            "stderr": self.stderr,
            "file": self.directory is not None,
            "syslog": self.syslog_address is not None,
            "mail": self.mail is not None,
        }
        return [name for name, on in wanted.items() if on]


def _formatter(sinks: LogSinks) -> logging.Formatter:
    return JsonFormatter() if sinks.format == "json" else logging.Formatter(TEXT_FORMAT)


def _syslog_address(address: str) -> str | tuple[str, int]:
    if address.startswith("/"):
        return address
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def build_handler(sinks: LogSinks, sink: str) -> logging.Handler:
    """The handler of one sink, with its formatter and the request-context filter.

    Raises :class:`ConfigError` (one line) when the sink cannot be opened, so a wrong ``LOG_DIR`` or
    syslog address stops the service at start instead of losing every line silently.
    """
    handler: logging.Handler
    formatter = _formatter(sinks)
    try:
        if sink == "stderr":
            handler = logging.StreamHandler(sys.stderr)
        elif sink == "file":
            assert sinks.directory is not None
            sinks.directory.mkdir(parents=True, exist_ok=True)
            # Every process (master and workers) appends to the one file with O_APPEND; logrotate moves
            # it and each process reopens it on its next line (no copytruncate, no signal needed).
            handler = logging.handlers.WatchedFileHandler(sinks.directory / LOG_FILE_NAME, encoding="utf-8")
        elif sink == "syslog":
            assert sinks.syslog_address is not None
            address = _syslog_address(sinks.syslog_address)
            if isinstance(address, str) and not Path(address).exists():
                raise ConfigError(f"LOG_SYSLOG_ADDRESS: no syslog socket at {address}")
            facility = logging.handlers.SysLogHandler.facility_names[sinks.syslog_facility]
            handler = logging.handlers.SysLogHandler(address, facility=facility)
            formatter = SyslogFormatter(formatter)
        elif sink == "mail":
            assert sinks.mail is not None
            handler = RateLimitedSMTPHandler(sinks.mail)
            handler.setLevel(logging.ERROR)
            formatter = logging.Formatter(TEXT_FORMAT)  # a person reads it: text, traceback included
        else:
            raise ValueError(f"unknown log sink {sink!r}")
    except OSError as exc:
        setting = "LOG_DIR" if sink == "file" else "LOG_SYSLOG_ADDRESS"
        raise ConfigError(f"{setting}: cannot open the {sink} log: {exc}") from None
    handler.set_name(HANDLER_PREFIX + sink)
    handler.setFormatter(formatter)
    handler.addFilter(RequestContextFilter())
    return handler


def build_handlers(sinks: LogSinks) -> list[logging.Handler]:
    return [build_handler(sinks, name) for name in sinks.names()]


#: The sinks whose handlers this process installed on the root logger (inherited by forked workers).
_installed: LogSinks | None = None


def _ours(root: logging.Logger) -> list[logging.Handler]:
    return [h for h in root.handlers if (h.get_name() or "").startswith(HANDLER_PREFIX)]


def configure_logging(settings: Settings) -> None:
    """Install the handlers of the settings' sinks on the root logger.

    Idempotent: a process that already has them (a gunicorn worker, whose master installed them from
    ``gunicorn_logconfig``; a second app in the same process) keeps them; other sinks replace ours.
    Handlers of others (pytest's capture) are left alone.
    """
    global _installed
    sinks = LogSinks.from_settings(settings)
    root = logging.getLogger()
    current = _ours(root)
    if _installed != sinks or [h.get_name() for h in current] != [HANDLER_PREFIX + n for n in sinks.names()]:
        handlers = build_handlers(sinks)  # first, so that a sink that cannot open leaves the old ones
        reset_logging()
        for handler in handlers:
            root.addHandler(handler)
        _installed = sinks
    root.setLevel(settings.log_level)
    logging.getLogger("conduit").setLevel(settings.log_level)
    # Request lines are kept whatever LOG_LEVEL says, as gunicorn keeps its access log; LOG_REQUESTS=false
    # turns them off.
    logging.getLogger(REQUEST_LOGGER).setLevel(logging.INFO)


def reset_logging() -> None:
    """Remove and close the handlers :func:`configure_logging` installed."""
    global _installed
    root = logging.getLogger()
    for handler in _ours(root):
        root.removeHandler(handler)
        handler.close()
    _installed = None


def mark_installed(sinks: LogSinks) -> None:
    """gunicorn's dictConfig installed the handlers of *sinks*: :func:`configure_logging` keeps them."""
    global _installed
    _installed = sinks
