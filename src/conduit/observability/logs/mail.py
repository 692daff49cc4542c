"""Error reports by e-mail: at most a few mails per window, sent from a thread of their own."""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
import smtplib
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage


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
