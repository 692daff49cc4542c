"""conduit.observability.logs: formats, the file sink and its rotation, request lines, the mail limiter,
the settings."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import conduit
from conduit.observability import logs
from conduit.observability.logs import formatters, mail
from conduit.settings import ConfigError, load_settings
from tests.support.accounts import register
from tests.support.databases import make_app
from tests.support.skips import require_or_skip

ISO_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"

pytestmark = pytest.mark.usefixtures("restore_logging")


MakeLoggingApp = Callable[..., Flask]


@pytest.fixture
def logging_app(sqlite_url: str, tmp_path: Path) -> MakeLoggingApp:
    """An app logging to ``tmp_path/logs/conduit.log`` only, with a route that logs and one that raises."""

    def make(**overrides: Any) -> Flask:
        overrides = {"log_dir": tmp_path / "logs", "log_stderr": False, **overrides}
        app = make_app(sqlite_url, **overrides)

        @app.get("/log-inside")
        def log_inside() -> dict[str, str]:
            logging.getLogger("conduit.test").warning("written while serving")
            return {"ok": "yes"}

        @app.get("/boom")
        def boom() -> dict[str, str]:
            raise RuntimeError("kaboom")

        return app

    return make


def log_file(tmp_path: Path) -> Path:
    return tmp_path / "logs" / logs.LOG_FILE_NAME


def json_lines(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines()
    assert lines, f"{path} is empty"
    return [json.loads(line) for line in lines]  # every line is one JSON object


# --- JSON lines -------------------------------------------------------------------------------------


def test_json_lines_carry_the_request_fields(logging_app: MakeLoggingApp, tmp_path: Path) -> None:
    app = logging_app(log_format="json")
    client = app.test_client()
    account = register(client, "logan")
    response = client.get("/api/user", headers={**account.headers, "X-Request-ID": "json-user-1"})
    assert response.status_code == 200
    assert client.get("/log-inside", headers={"X-Request-ID": "json-inside-1"}).status_code == 200

    entries = json_lines(log_file(tmp_path))
    (user_line,) = [e for e in entries if e["request_id"] == "json-user-1"]
    assert user_line["logger"] == "conduit.request"
    assert user_line["level"] == "INFO"
    assert re.match(ISO_UTC, user_line["timestamp"])
    assert user_line["method"] == "GET"
    assert user_line["path"] == "/api/user"
    assert user_line["status"] == 200
    assert isinstance(user_line["duration_ms"], float)
    assert user_line["duration_ms"] >= 0
    assert user_line["client_ip"] == "127.0.0.1"
    assert isinstance(user_line["user_id"], int)
    assert user_line["message"].startswith('127.0.0.1 "GET /api/user HTTP/1.1" 200 ')

    inside = [e for e in entries if e["request_id"] == "json-inside-1"]
    assert [e["logger"] for e in inside] == ["conduit.test", "conduit.request"]
    assert inside[0]["message"] == "written while serving"
    assert inside[0]["level"] == "WARNING"
    assert "user_id" not in inside[1]  # anonymous


def test_an_exception_is_one_field_never_a_multiline_traceback(
    logging_app: MakeLoggingApp, tmp_path: Path
) -> None:
    app = logging_app(log_format="json")
    response = app.test_client().get("/boom", headers={"X-Request-ID": "json-boom-1"})
    assert response.status_code == 500

    entries = json_lines(log_file(tmp_path))  # would fail on a traceback's lines
    (error,) = [e for e in entries if e["level"] == "ERROR"]
    assert error["request_id"] == "json-boom-1"
    assert error["logger"] == "conduit.web.errors"
    assert error["exc_info"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: kaboom" in error["exc_info"]
    (request_line,) = [e for e in entries if e["logger"] == "conduit.request"]
    assert (request_line["status"], request_line["request_id"]) == (500, "json-boom-1")


def test_the_json_formatter_keeps_extra_fields_and_is_plain_json() -> None:
    record = logging.LogRecord("conduit.x", logging.INFO, __file__, 1, "a %s", ("b",), None)
    record.job = {"id": 7}
    entry = json.loads(formatters.JsonFormatter().format(record))
    assert entry["message"] == "a b"
    assert entry["job"] == {"id": 7}
    assert entry["request_id"] == "-"
    assert entry["pid"] == os.getpid()


def test_text_lines_are_the_readable_format(logging_app: MakeLoggingApp, tmp_path: Path) -> None:
    app = logging_app()  # testing profile: text
    app.test_client().get("/log-inside", headers={"X-Request-ID": "text-1"})
    text = log_file(tmp_path).read_text()
    assert " WARNING [conduit.test] [text-1] written while serving\n" in text
    assert ' INFO [conduit.request] [text-1] 127.0.0.1 "GET /log-inside HTTP/1.1" 200 ' in text


def test_request_lines_can_be_turned_off(logging_app: MakeLoggingApp, tmp_path: Path) -> None:
    app = logging_app(log_requests=False)
    app.test_client().get("/log-inside", headers={"X-Request-ID": "quiet-1"})
    text = log_file(tmp_path).read_text()
    assert "written while serving" in text
    assert "conduit.request" not in text


def test_the_request_line_goes_through_the_loggers_filters_and_level(
    logging_app: MakeLoggingApp, tmp_path: Path
) -> None:
    """The line is a record of ``conduit.request`` like any other: its level, its filters and
    ``logging.disable`` apply, and its message and fields are the documented ones."""
    client = logging_app(log_format="json").test_client()
    request_logger = logging.getLogger(logs.REQUEST_LOGGER)
    dropped: list[logging.LogRecord] = []

    def drop(record: logging.LogRecord) -> bool:
        dropped.append(record)
        return False

    request_logger.addFilter(drop)
    try:
        client.get("/log-inside?x=1", headers={"X-Request-ID": "filtered-1"})
    finally:
        request_logger.removeFilter(drop)
    assert [record.getMessage() for record in dropped] == [
        f'127.0.0.1 "GET /log-inside?x=1 HTTP/1.1" 200 {dropped[0].duration_ms:.1f}ms'
    ]
    logging.disable(logging.INFO)
    try:
        client.get("/log-inside", headers={"X-Request-ID": "disabled-1"})
    finally:
        logging.disable(logging.NOTSET)
    client.get("/log-inside?y=2", headers={"X-Request-ID": "kept-1"})
    entries = json_lines(log_file(tmp_path))
    requests = [e for e in entries if e["logger"] == logs.REQUEST_LOGGER]
    assert [e["request_id"] for e in requests] == ["kept-1"]
    (line,) = requests
    assert line["message"].startswith('127.0.0.1 "GET /log-inside?y=2 HTTP/1.1" 200 ')
    assert line["message"].endswith("ms")
    assert {key: line[key] for key in ("method", "path", "status", "client_ip")} == {
        "method": "GET",
        "path": "/log-inside",
        "status": 200,
        "client_ip": "127.0.0.1",
    }


def test_successful_probes_are_not_logged_unless_asked(logging_app: MakeLoggingApp, tmp_path: Path) -> None:
    client = logging_app().test_client()
    for path in ("/healthz", "/readyz", "/log-inside"):
        client.get(path, headers={"X-Request-ID": f"probe{path.replace('/', '-')}"})
    client.post("/healthz", headers={"X-Request-ID": "probe-refused"})
    text = log_file(tmp_path).read_text()
    assert "[probe-healthz]" not in text
    assert "[probe-readyz]" not in text
    assert '[probe-log-inside] 127.0.0.1 "GET /log-inside HTTP/1.1" 200 ' in text
    assert '[probe-refused] 127.0.0.1 "POST /healthz HTTP/1.1" 405 ' in text  # a failing probe is logged

    logs.reset_logging()
    logging_app(log_probes=True).test_client().get("/healthz", headers={"X-Request-ID": "probe-asked"})
    assert '[probe-asked] 127.0.0.1 "GET /healthz HTTP/1.1" 200 ' in log_file(tmp_path).read_text()


def ours() -> list[str]:
    return [name for h in logging.getLogger().handlers if (name := h.get_name() or "").startswith("conduit-")]


def test_configuring_twice_keeps_one_set_of_handlers(logging_app: MakeLoggingApp, tmp_path: Path) -> None:
    logging_app()
    logging_app()
    names = [
        h.get_name() for h in logging.getLogger().handlers if (h.get_name() or "").startswith("conduit-")
    ]
    assert names == ["conduit-file"]
    logging_app(log_stderr=True)
    names = [
        h.get_name() for h in logging.getLogger().handlers if (h.get_name() or "").startswith("conduit-")
    ]
    assert names == ["conduit-stderr", "conduit-file"]


# --- the file sink and its rotation -----------------------------------------------------------------


def test_a_moved_log_file_is_reopened(logging_app: MakeLoggingApp, tmp_path: Path) -> None:
    """What logrotate does without copytruncate: move the file away; the next line starts a new one."""
    app = logging_app()
    client = app.test_client()
    client.get("/log-inside", headers={"X-Request-ID": "before-rotation"})
    current = log_file(tmp_path)
    current.rename(current.with_name("conduit.log.1"))
    client.get("/log-inside", headers={"X-Request-ID": "after-rotation"})

    rotated = current.with_name("conduit.log.1").read_text()
    fresh = current.read_text()
    assert "[before-rotation]" in rotated
    assert "[after-rotation]" not in rotated
    assert "[after-rotation]" in fresh
    assert "[before-rotation]" not in fresh


def test_logrotate_rotates_the_file_under_a_running_app(logging_app: MakeLoggingApp, tmp_path: Path) -> None:
    logrotate = shutil.which("logrotate") or next(
        (p for p in ("/usr/sbin/logrotate", "/sbin/logrotate") if Path(p).exists()), None
    )
    if logrotate is None:
        require_or_skip("logrotate is not installed (Debian package logrotate)")
    app = logging_app()
    client = app.test_client()
    for n in range(3):
        client.get("/log-inside", headers={"X-Request-ID": f"old-{n}"})
    config = tmp_path / "logrotate.conf"
    config.write_text(f"{log_file(tmp_path)} {{\n  rotate 3\n  missingok\n  notifempty\n  nocompress\n}}\n")
    result = subprocess.run(
        [logrotate, "--force", "--state", str(tmp_path / "logrotate.state"), str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    client.get("/log-inside", headers={"X-Request-ID": "new-1"})

    rotated = log_file(tmp_path).with_name("conduit.log.1").read_text()
    assert all(f"[old-{n}]" in rotated for n in range(3))
    assert "[new-1]" in log_file(tmp_path).read_text()
    assert "[new-1]" not in rotated


def test_an_unwritable_log_dir_refuses_with_one_line(sqlite_url: str, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"^LOG_DIR: cannot open the file log"):
        make_app(sqlite_url, log_dir=blocker / "logs")


# --- the mail limiter ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def mail_sink(**fields: Any) -> mail.MailSink:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 1,
        "use_tls": False,
        "username": None,
        "password": None,
        "sender": "conduit@example.com",
        "admins": ("ops@example.com",),
        "timeout": 2.0,
        "limit": 3,
        "window_seconds": 60.0,
        **fields,
    }
    return mail.MailSink(**values)


def test_the_mail_limiter_sends_a_handful_and_counts_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    handler = mail.RateLimitedSMTPHandler(mail_sink(), clock=clock)
    handler.setFormatter(logging.Formatter("%(message)s"))
    sent: list[EmailMessage] = []
    monkeypatch.setattr(handler, "_deliver", sent.append)
    errors = logging.getLogger("conduit.test.mail")
    errors.propagate = False
    errors.addHandler(handler)
    try:
        for n in range(50):
            errors.error("error number %d", n)
        handler.flush()
        assert len(sent) == 3
        assert [m["Subject"].endswith(f"error number {n}") for n, m in enumerate(sent)] == [True] * 3
        clock.now += 61  # the next window
        errors.error("after the storm")
        handler.flush()
    finally:
        errors.removeHandler(handler)
        errors.propagate = True
        handler.close()
    assert len(sent) == 4
    body = sent[3].get_content()
    assert body.startswith("47 more error(s) were not mailed since the last mail")
    assert "after the storm" in body
    assert sent[3]["To"] == "ops@example.com"


# --- settings -----------------------------------------------------------------------------------------


def test_production_logs_json_and_the_other_profiles_text() -> None:
    key = "k3Vq9xZp2LmN7rT4wY8bC1dF6gH0jS5aQeUiOoPlMnBvCxZa"
    assert load_settings(conduit_env="production", secret_key=key).log_format == "json"
    assert load_settings(conduit_env="production", secret_key=key, log_format="TEXT").log_format == "text"
    assert load_settings(conduit_env="development").log_format == "text"
    assert load_settings(conduit_env="testing").log_format == "text"


def test_admins_come_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMINS", "ops@example.com, dev@example.com")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.com")
    settings = load_settings(conduit_env="testing")
    assert settings.admins == ["ops@example.com", "dev@example.com"]
    assert "hunter2" not in repr(load_settings(conduit_env="testing", mail_password="hunter2"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"admins": ["ops@example.com"]}, "ADMINS is set but MAIL_SERVER is not"),
        ({"admins": "not-an-address", "mail_server": "smtp"}, "ADMINS: 'not-an-address' is not an e-mail"),
        ({"log_syslog_address": "syslog.example.com"}, "LOG_SYSLOG_ADDRESS: must be a Unix socket"),
        ({"log_syslog_address": "host:99999"}, "LOG_SYSLOG_ADDRESS: must be a Unix socket"),
        ({"log_format": "xml"}, "LOG_FORMAT:"),
    ],
)
def test_bad_logging_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(conduit_env="testing", **overrides)
    assert str(raised.value).startswith(message), raised.value


def test_a_missing_syslog_socket_refuses(sqlite_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^LOG_SYSLOG_ADDRESS: no syslog socket at "):
        make_app(sqlite_url, log_syslog_address=str(tmp_path / "no-such-socket"))


def test_gunicorn_logconfig_routes_gunicorn_to_the_same_handlers(tmp_path: Path) -> None:
    settings = load_settings(
        conduit_env="production",
        secret_key="k3Vq9xZp2LmN7rT4wY8bC1dF6gH0jS5aQeUiOoPlMnBvCxZa",
        log_dir=tmp_path / "logs",
    )
    config = logs.gunicorn_logconfig(settings, "info")
    assert config["root"]["handlers"] == ["conduit-stderr", "conduit-file"]
    assert config["loggers"]["gunicorn.error"] == {"level": "INFO", "handlers": [], "propagate": True}
    access = config["loggers"]["gunicorn.access"]
    assert (access["handlers"], access["propagate"]) == ([], False)  # the app writes the request lines
    factory = config["handlers"]["conduit-file"]
    handler = factory["()"](sinks=factory["sinks"], sink=factory["sink"])
    try:
        assert isinstance(handler, logging.handlers.WatchedFileHandler)
        assert isinstance(handler.formatter, formatters.JsonFormatter)
    finally:
        handler.close()


def test_nothing_in_the_package_writes_to_stdout() -> None:
    """ruff's T20 bans print() in src; this catches the other ways to reach stdout (a StreamHandler's
    default stream is stdout). Only the ``conduit`` command talks to stdout: that is its interface."""
    source = Path(conduit.__file__).parent
    offenders = [
        f"{path.relative_to(source)}: {marker}"
        for path in source.rglob("*.py")
        if path.parent.name != "ops"  # the command line
        for marker in ("sys.stdout", "sys.__stdout__", "StreamHandler()", "click.echo")
        if marker in path.read_text()
    ]
    assert offenders == [], offenders
