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

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import queue
import re
import smtplib
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, g, has_request_context, request

from conduit.extensions import SETTINGS
from conduit.settings import ConfigError, Settings

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] [%(request_id)s] %(message)s"
LOG_FILE_NAME = "conduit.log"
REQUEST_LOGGER = "conduit.request"
#: Paths that monitors poll: their successful requests are logged only with LOG_PROBES=true.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_HANDLER_PREFIX = "conduit-"

request_log = logging.getLogger(REQUEST_LOGGER)

#: What every LogRecord has; anything else on a record came from ``extra=`` and goes into the JSON line.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


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


#: The name this filter had before it carried the user id too.
RequestIdFilter = RequestContextFilter


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: an exception is the ``exc_info`` string field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class SyslogFormatter(logging.Formatter):
    """The tag syslog expects (``conduit[pid]: ``) in front of the text or JSON line."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return f"conduit[{record.process}]: {self.inner.format(record)}"


@dataclass(frozen=True)
class MailSink:
    host: str
    port: int
    use_tls: bool
    username: str | None
    password: str | None = field(repr=False)
    sender: str
    admins: tuple[str, ...]
    timeout: float
    limit: int
    window_seconds: float


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


class RateLimitedSMTPHandler(logging.handlers.SMTPHandler):
    """Mail ERROR records to the administrators, at most *limit* mails per *window* seconds per process.

    An error storm sends a handful of mails; the next mail sent says how many errors were not mailed.
    The SMTP conversation happens in a thread of its own (started lazily, so a gunicorn worker forked
    from the master gets its own), so a slow or failing mail server never delays or breaks a request:
    a failed delivery is one line on stderr.
    """

    def __init__(self, mail: MailSink, clock: Callable[[], float] = time.monotonic) -> None:
        credentials = (mail.username, mail.password or "") if mail.username else None
        super().__init__(
            (mail.host, mail.port),
            mail.sender,
            list(mail.admins),
            "",
            credentials=credentials,
            timeout=mail.timeout,
        )
        self.use_tls = mail.use_tls
        self.limit = mail.limit
        self.window = mail.window_seconds
        self._clock = clock
        self._window_start = clock()
        self._sent_in_window = 0
        self._suppressed = 0
        self._outbox: queue.Queue[EmailMessage | None] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._sender_pid = 0

    def getSubject(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        first_line = (record.getMessage().splitlines() or [""])[0][:120]
        return f"[conduit] {record.levelname} on {socket.gethostname()}: {first_line}"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            now = self._clock()
            if now - self._window_start >= self.window:
                self._window_start, self._sent_in_window = now, 0
            if self._sent_in_window >= self.limit:
                self._suppressed += 1
                return
            self._sent_in_window += 1
            suppressed, self._suppressed = self._suppressed, 0
            body = self.format(record)
            if suppressed:
                body = (
                    f"{suppressed} more error(s) were not mailed since the last mail "
                    f"(at most {self.limit} mails per {self.window:g} s per process).\n\n{body}"
                )
            message = EmailMessage()
            message["From"] = self.fromaddr
            message["To"] = ", ".join(self.toaddrs)
            message["Subject"] = self.getSubject(record)
            message.set_content(body)
            self._start_sender()
            self._outbox.put(message)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)

    def _start_sender(self) -> None:
        if self._sender_pid == os.getpid() and self._sender is not None and self._sender.is_alive():
            return
        if self._sender_pid != os.getpid():  # forked: the queue and its locks belong to the parent
            self._outbox = queue.Queue()
            self._sender_pid = os.getpid()
        self._sender = threading.Thread(target=self._send_forever, name="conduit-error-mail", daemon=True)
        self._sender.start()

    def _send_forever(self) -> None:
        while True:
            message = self._outbox.get()
            try:
                if message is None:
                    return
                self._deliver(message)
            except Exception as exc:  # noqa: BLE001 - one line on stderr, never a crash
                host, port = self.mailhost, self.mailport
                sys.stderr.write(f"conduit: could not mail an error report via {host}:{port}: {exc!r}\n")
                sys.stderr.flush()
            finally:
                self._outbox.task_done()

    def _deliver(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.mailhost, self.mailport or smtplib.SMTP_PORT, timeout=self.timeout) as smtp:
            if self.use_tls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)

    def flush(self, timeout: float | None = None) -> None:
        """Wait (at most *timeout*, default the SMTP timeout plus one second) for queued mails to go."""
        deadline = time.monotonic() + (self.timeout + 1 if timeout is None else timeout)
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            if self._sender is None or not self._sender.is_alive() or self._sender_pid != os.getpid():
                return
            time.sleep(0.01)

    def close(self) -> None:
        if self._sender is not None and self._sender.is_alive() and self._sender_pid == os.getpid():
            self.flush()
            self._outbox.put(None)
            self._sender.join(timeout=1)
        super().close()


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
    handler.set_name(_HANDLER_PREFIX + sink)
    handler.setFormatter(formatter)
    handler.addFilter(RequestContextFilter())
    return handler


def build_handlers(sinks: LogSinks) -> list[logging.Handler]:
    return [build_handler(sinks, name) for name in sinks.names()]


#: The sinks whose handlers this process installed on the root logger (inherited by forked workers).
_installed: LogSinks | None = None


def _ours(root: logging.Logger) -> list[logging.Handler]:
    return [h for h in root.handlers if (h.get_name() or "").startswith(_HANDLER_PREFIX)]


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
    if _installed != sinks or [h.get_name() for h in current] != [_HANDLER_PREFIX + n for n in sinks.names()]:
        handlers = build_handlers(sinks)  # first, so that a sink that cannot open leaves the old ones
        reset_logging()
        for handler in handlers:
            root.addHandler(handler)
        _installed = sinks
    root.setLevel(settings.log_level)
    logging.getLogger("conduit").setLevel(settings.log_level)
    # Request lines are kept whatever LOG_LEVEL says, as gunicorn keeps its access log; LOG_REQUESTS=false
    # turns them off.
    request_log.setLevel(logging.INFO)


def reset_logging() -> None:
    """Remove and close the handlers :func:`configure_logging` installed."""
    global _installed
    root = logging.getLogger()
    for handler in _ours(root):
        root.removeHandler(handler)
        handler.close()
    _installed = None


def _handler_factory(sinks: LogSinks, sink: str) -> logging.Handler:
    """dictConfig's ``()`` for gunicorn: the handler, made when gunicorn configures its logging."""
    global _installed
    handler = build_handler(sinks, sink)
    _installed = sinks
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
            _HANDLER_PREFIX + name: {"()": _handler_factory, "sinks": sinks, "sink": name}
            for name in sinks.names()
        },
        "root": {"level": level, "handlers": [_HANDLER_PREFIX + name for name in sinks.names()]},
        "loggers": {
            "conduit": {"level": level, "handlers": [], "propagate": True},
            REQUEST_LOGGER: {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.error": {"level": gunicorn_level.upper(), "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


def _start_request() -> None:
    g.request_started = time.perf_counter()
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if _VALID_REQUEST_ID.match(sent) else uuid.uuid4().hex


def _quiet_probe(response: Response) -> bool:
    return request.path in PROBE_PATHS and response.status_code < 400


def _finish_request(response: Response) -> Response:
    if "request_id" not in g:  # an earlier before_request hook refused the request before ours ran
        _start_request()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    settings = SETTINGS.find()
    if settings is None or (settings.log_requests and (settings.log_probes or not _quiet_probe(response))):
        duration_ms = round((time.perf_counter() - g.request_started) * 1000, 1)
        full_path = request.full_path.removesuffix("?")
        protocol = request.environ.get("SERVER_PROTOCOL", "HTTP/1.1")
        request_log.info(
            '%s "%s %s %s" %s %.1fms',
            request.remote_addr,
            request.method,
            full_path,
            protocol,
            response.status_code,
            duration_ms,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "client_ip": request.remote_addr,
            },
        )
    return response


def init_app(app: Flask) -> None:
    # First of the app's before_request hooks, so even a request another hook refuses has an id, and
    # first in after_request's list, which Flask runs last: the line has the final status.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request_funcs.setdefault(None, []).insert(0, _finish_request)
