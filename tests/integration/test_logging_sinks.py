"""Each log sink against a real receiver: a UDP and a Unix syslog socket, an SMTP server (aiosmtpd), and
a real gunicorn in the production profile writing JSON lines to stderr and to LOG_DIR."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import logging.handlers
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from conduit.observability.logs import mail
from harness.net import free_port, http_request
from tests.support.databases import make_app
from tests.support.servers import REPO, server_env, stop, wait_until

GUNICORN_CONFIG = REPO / "deploy" / "gunicorn.conf.py"
LOCAL3 = logging.handlers.SysLogHandler.LOG_LOCAL3

pytestmark = pytest.mark.usefixtures("restore_logging")


def app_that_fails(sqlite_url: str, **overrides: Any) -> Flask:
    """An app from make_app with a route that raises, logging to the sinks in *overrides* only."""
    app = make_app(sqlite_url, log_stderr=False, **overrides)

    @app.get("/boom")
    def boom() -> dict[str, str]:
        raise RuntimeError("kaboom in the logging test")

    return app


def handler_named(name: str) -> logging.Handler:
    return next(h for h in logging.getLogger().handlers if h.get_name() == f"conduit-{name}")


# --- syslog -------------------------------------------------------------------------------------------


def received(sock: socket.socket, count: int) -> list[str]:
    sock.settimeout(5)
    return [sock.recv(65536).decode() for _ in range(count)]


def priority(facility: int, level: int) -> str:
    return f"<{facility * 8 + level}>"


def test_syslog_over_udp_with_the_right_priority(sqlite_url: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        port = receiver.getsockname()[1]
        app = app_that_fails(sqlite_url, log_syslog_address=f"127.0.0.1:{port}", log_syslog_facility="local3")
        response = app.test_client().get("/boom", headers={"X-Request-ID": "syslog-udp-1"})
        assert response.status_code == 500
        error, request_line = received(receiver, 2)

    # <PRI> = facility * 8 + severity: local3 (19) with err (3), then with info (6)
    assert error.startswith(f"{priority(LOCAL3, 3)}conduit[")
    assert "ERROR [conduit.web.errors] [syslog-udp-1] unhandled error while serving GET /boom" in error
    assert "RuntimeError: kaboom in the logging test" in error
    assert request_line.startswith(f"{priority(LOCAL3, 6)}conduit[")
    assert '[conduit.request] [syslog-udp-1] 127.0.0.1 "GET /boom HTTP/1.1" 500' in request_line


def test_syslog_over_a_unix_socket_in_json(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "log.sock"  # what /dev/log is
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        app = app_that_fails(sqlite_url, log_syslog_address=str(path), log_format="json")
        app.test_client().get("/boom", headers={"X-Request-ID": "syslog-unix-1"})
        error, request_line = received(receiver, 2)

    user = logging.handlers.SysLogHandler.LOG_USER
    tag, _, payload = error.partition(": ")
    assert tag.startswith(f"{priority(user, 3)}conduit[")
    entry = json.loads(payload.rstrip("\0"))
    assert (entry["level"], entry["request_id"]) == ("ERROR", "syslog-unix-1")
    assert "RuntimeError" in entry["exc_info"]
    assert request_line.startswith(priority(user, 6))
    assert json.loads(request_line.partition(": ")[2].rstrip("\0"))["status"] == 500


# --- e-mail -------------------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd's handler: keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def mailing_app(sqlite_url: str, port: int, **overrides: Any) -> Flask:
    return app_that_fails(
        sqlite_url,
        admins=["ops@example.com", "dev@example.com"],
        mail_server="127.0.0.1",
        mail_port=port,
        mail_sender="conduit@example.com",
        **overrides,
    )


def test_an_unhandled_exception_mails_its_traceback(sqlite_url: str, smtp_server: tuple[int, Inbox]) -> None:
    port, inbox = smtp_server
    app = mailing_app(sqlite_url, port)
    response = app.test_client().get("/boom", headers={"X-Request-ID": "mail-1"})
    assert response.status_code == 500
    wait_until(lambda: len(inbox.messages) == 1, "the error mail", 10)

    (mail,) = inbox.messages
    assert mail["From"] == "conduit@example.com"
    assert mail["To"] == "ops@example.com, dev@example.com"
    assert mail["Subject"].startswith("[conduit] ERROR on ")
    assert mail["Subject"].endswith("unhandled error while serving GET /boom")
    body = mail.get_content()
    assert "[conduit.web.errors] [mail-1] unhandled error while serving GET /boom" in body
    assert "Traceback (most recent call last):" in body
    assert "RuntimeError: kaboom in the logging test" in body


def test_an_error_storm_sends_a_handful_of_mails(sqlite_url: str, smtp_server: tuple[int, Inbox]) -> None:
    port, inbox = smtp_server
    app = mailing_app(sqlite_url, port, log_mail_limit=3, log_mail_window_seconds=3600)
    client = app.test_client()
    for n in range(50):
        assert client.get("/boom", headers={"X-Request-ID": f"storm-{n}"}).status_code == 500
    mailer = handler_named("mail")
    mailer.flush()
    time.sleep(0.5)  # a mail over the limit would have been queued before flush() returned
    assert len(inbox.messages) == 3
    assert [f"[storm-{n}]" in m.get_content() for n, m in enumerate(inbox.messages)] == [True] * 3

    # The window ends (as if an hour had passed): the next error is mailed with the count of the others.
    assert isinstance(mailer, mail.RateLimitedSMTPHandler)
    mailer._window_start -= 3601
    client.get("/boom", headers={"X-Request-ID": "after-storm"})
    wait_until(lambda: len(inbox.messages) == 4, "the mail after the storm", 10)
    body = inbox.messages[3].get_content()
    assert body.startswith("47 more error(s) were not mailed since the last mail")
    assert "[after-storm]" in body


def test_a_failing_mail_server_does_not_break_the_request(
    sqlite_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    app = mailing_app(sqlite_url, free_port())  # nothing listens there
    started = time.monotonic()
    response = app.test_client().get("/boom", headers={"X-Request-ID": "no-smtp-1"})
    assert response.status_code == 500
    assert response.get_json()["errors"]["server"][0].endswith("quote request id no-smtp-1 when reporting it")
    assert time.monotonic() - started < 2
    handler_named("mail").flush()
    err = capfd.readouterr().err
    assert "conduit: could not mail an error report via 127.0.0.1:" in err
    assert "Traceback" not in err  # one line, not logging's "--- Logging error ---" dump


# --- a real gunicorn in production ------------------------------------------------------------------

PROBE_APP = """
import logging

from conduit.wsgi import app


def probe() -> dict[str, bool]:
    logging.getLogger("conduit.probe").warning("inside the request")
    return {"ok": True}


app.add_url_rule("/probe", "probe", probe)
"""


@pytest.mark.slow
def test_gunicorn_json_lines_share_the_request_id(tmp_path: Path, sqlite_url: str) -> None:
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "logging_probe.py").write_text(PROBE_APP)
    port = free_port()
    env = server_env(
        PORT=str(port),
        WEB_CONCURRENCY="2",
        CONDUIT_ENV="production",
        SECRET_KEY="k3Vq9xZp2LmN7rT4wY8bC1dF6gH0jS5aQeUiOoPlMnBvCxZa",
        LOG_FORMAT="json",
        LOG_DIR=str(workdir / "logs"),
        DATABASE_URL=sqlite_url,
    )
    base = f"http://127.0.0.1:{port}"

    def lines_of() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stderr.read_text().splitlines()]

    stdout, stderr = workdir / "gunicorn.stdout", workdir / "gunicorn.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "logging_probe:app"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        try:
            wait_until(
                lambda: http_request(base, "GET", "/healthz").status == 200,
                "gunicorn /healthz",
                15,
                alive=lambda: process.poll() is None,
                log=stderr,
            )
            assert http_request(base, "GET", "/probe", headers={"X-Request-ID": "probe-1"}).status == 200
            user = {"user": {"username": "jl", "email": "jl@example.com", "password": "a-long-password-1"}}
            token = http_request(base, "POST", "/api/users", user).json()["user"]["token"]
            me = http_request(base, "GET", "/api/user", headers={"Authorization": f"Token {token}"})
            assert me.status == 200
            user_rid = me.headers["X-Request-ID"]
            wait_until(
                lambda: any(e["request_id"] == user_rid for e in lines_of()), "the last request line", 10
            )
        finally:
            stop(process)
    assert process.returncode == 0
    assert stdout.read_bytes() == b""

    entries = lines_of()  # every stderr line is one JSON object
    probe = [e for e in entries if e["request_id"] == "probe-1"]
    assert [e["logger"] for e in probe] == ["conduit.probe", "conduit.request"]
    app_line, request_line = probe
    assert app_line["message"] == "inside the request"
    assert app_line["pid"] == request_line["pid"]
    assert (request_line["method"], request_line["path"], request_line["status"]) == ("GET", "/probe", 200)
    assert request_line["client_ip"] == "127.0.0.1"
    assert request_line["duration_ms"] >= 0
    (me_line,) = [e for e in entries if e["request_id"] == user_rid]
    assert isinstance(me_line["user_id"], int)

    loggers = {e["logger"] for e in entries}
    assert "gunicorn.error" in loggers  # gunicorn's own lines are in the same format
    assert "gunicorn.access" not in loggers  # one line per request, the app's
    booted = [e for e in entries if e["message"].startswith("Booting worker")]
    assert len(booted) == 2

    # The file in LOG_DIR got the same lines, from the master and both workers, none torn.
    file_lines = [json.loads(line) for line in (workdir / "logs" / "conduit.log").read_text().splitlines()]
    assert sorted(map(json.dumps, file_lines)) == sorted(map(json.dumps, entries))


@pytest.mark.slow
def test_gunicorn_refuses_a_log_dir_it_cannot_write_with_one_line(tmp_path: Path, sqlite_url: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = server_env(
        PORT=str(free_port()), CONDUIT_ENV="testing", DATABASE_URL=sqlite_url, LOG_DIR=str(blocker / "logs")
    )
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "conduit.wsgi:app"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("conduit: refusing to start: LOG_DIR: cannot open the file log")
