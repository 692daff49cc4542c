"""deploy/logrotate/conduit, run by the real logrotate against the app's file sink.

The rule moves the file without copytruncate and without a signal; each process keeps writing because
its WatchedFileHandler reopens the path when the inode changes. Checked here with a running writer.
"""

from __future__ import annotations

import grp
import gzip
import logging
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from conduit.observability import logs
from conduit.observability.logs import sinks
from conduit.settings import load_settings
from tests.support.servers import REPO
from tests.support.skips import require_or_skip

RULE = REPO / "deploy" / "logrotate" / "conduit"
INSTALLED_LOG = "/var/log/conduit/conduit.log"


@pytest.fixture
def logrotate() -> str:
    path = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not Path(path).exists():
        require_or_skip("logrotate is not installed (Debian: apt-get install logrotate)")
    return path


def rule_for(directory: Path) -> str:
    """The committed rule, for *directory* and the user running the tests instead of `conduit`."""
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    text = RULE.read_text()
    assert INSTALLED_LOG in text
    text = text.replace(INSTALLED_LOG, str(directory / logs.LOG_FILE_NAME))
    return text.replace("su conduit conduit", f"su {user} {group}").replace(
        "create 0640 conduit conduit", f"create 0640 {user} {group}"
    )


def rotate(logrotate: str, config: Path, state: Path) -> str:
    done = subprocess.run(
        [logrotate, "--verbose", "--force", "--state", str(state), str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "error:" not in done.stderr, done.stderr
    return done.stderr


def test_the_rule_parses_cleanly(logrotate: str, tmp_path: Path) -> None:
    config = tmp_path / "conduit.logrotate"
    config.write_text(rule_for(tmp_path / "logs"))
    checked = subprocess.run(
        [logrotate, "--debug", "--state", str(tmp_path / "state"), str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "error:" not in checked.stderr, checked.stderr
    assert "Handling 1 logs" in checked.stderr, checked.stderr


def test_a_writer_keeps_logging_across_rotations(logrotate: str, tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    settings = load_settings(conduit_env="testing", log_dir=directory, log_stderr=False)
    handler = sinks.build_handler(sinks.LogSinks.from_settings(settings), "file")
    writer = logging.getLogger("conduit.test.logrotate")
    writer.propagate = False
    writer.addHandler(handler)
    config = tmp_path / "conduit.logrotate"
    config.write_text(rule_for(directory))
    state = tmp_path / "state"
    current = directory / logs.LOG_FILE_NAME
    try:
        writer.warning("before the first rotation")
        rotate(logrotate, config, state)
        writer.warning("after the first rotation")
        rotate(logrotate, config, state)
        writer.warning("after the second rotation")
    finally:
        writer.removeHandler(handler)
        handler.close()

    assert "after the second rotation" in current.read_text()
    assert "after the first rotation" not in current.read_text()
    # delaycompress: the newest old file stays plain (a process may still be finishing a line in it) ...
    assert "after the first rotation" in (directory / "conduit.log.1").read_text()
    # ... and the one before is compressed.
    with gzip.open(directory / "conduit.log.2.gz", "rt") as older:
        assert "before the first rotation" in older.read()
    assert oct(current.stat().st_mode & 0o777) in ("0o640", "0o600")
