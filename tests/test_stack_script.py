"""bin/stack.py's refusals, each one line and a non-zero exit, before anything is started."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.servers import REPO


def load_stack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("conduit_stack_script", REPO / "bin" / "stack.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stack_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    for name in ("STACK_PORT", "STACK_APP_PORTS", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STACK_DIR", str(tmp_path))
    return load_stack()


def run_main(
    stack_script: ModuleType, capsys: pytest.CaptureFixture[str], command: str = "up"
) -> tuple[int, str]:
    code = stack_script.main([command])
    out = capsys.readouterr().out.strip().splitlines()
    return code, out[-1] if out else ""


def test_nginx_missing_without_root_prints_the_command(
    stack_script: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(stack_script.shutil, "which", lambda name: None)
    monkeypatch.setattr(stack_script.os, "access", lambda path, mode: False)
    monkeypatch.setattr(stack_script.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(stack_script, "port_in_use", lambda port: False)
    code, line = run_main(stack_script, capsys)
    assert code == 1
    assert line == (
        "stack: error: nginx is not installed; run: sudo apt-get install -y --no-install-recommends nginx"
    )
    assert not (Path(os.environ["STACK_DIR"]) / "run" / "stack.json").exists()


def test_postgres_unreachable_and_no_initdb(
    stack_script: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/conduit_stack")
    monkeypatch.setattr(stack_script, "port_in_use", lambda port: False)
    monkeypatch.setattr(stack_script, "find_nginx", lambda: "/usr/sbin/nginx")
    monkeypatch.setattr(stack_script, "find_postgres_tool", lambda name: None)
    code, line = run_main(stack_script, capsys)
    assert code == 1
    assert line == (
        "stack: error: PostgreSQL does not answer at DATABASE_URL and initdb is not installed "
        "(apt-get install postgresql), so no private cluster can be made either"
    )


def test_a_sqlite_database_url_is_refused(
    stack_script: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///var/conduit.db")
    monkeypatch.setattr(stack_script, "port_in_use", lambda port: False)
    monkeypatch.setattr(stack_script, "find_nginx", lambda: "/usr/sbin/nginx")
    code, line = run_main(stack_script, capsys)
    assert code == 1
    assert line == "stack: error: the stack runs on PostgreSQL; DATABASE_URL is sqlite"


@pytest.mark.parametrize(
    ("port", "app_ports", "message"),
    [
        ("80a", "8001,8002", "STACK_PORT and STACK_APP_PORTS must be port numbers (e.g. 8080 and 8001,8002)"),
        ("8080", "8080,8002", "STACK_PORT and STACK_APP_PORTS must be distinct ports"),
    ],
)
def test_bad_ports_are_refused(
    stack_script: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    port: str,
    app_ports: str,
    message: str,
) -> None:
    monkeypatch.setenv("STACK_PORT", port)
    monkeypatch.setenv("STACK_APP_PORTS", app_ports)
    code, line = run_main(stack_script, capsys)
    assert (code, line) == (1, f"stack: error: {message}")


def test_status_and_down_when_nothing_runs(
    stack_script: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(stack_script, capsys, "status") == (3, "stack: not running")
    assert run_main(stack_script, capsys, "down") == (0, "stack: nothing was running")


def test_status_asks_the_port_the_stack_was_started_on(
    stack_script: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`STACK_PORT=18490 make stack`, then `make stack-status` in a shell without STACK_PORT."""
    monkeypatch.setenv("STACK_PORT", "18490")
    started = stack_script.layout_from_env()
    pid_file = started.run / "me.pid"
    started.run.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(os.getpid()))
    stack_script.save_components(started, [stack_script.Component("nginx", str(pid_file), "python")])
    monkeypatch.delenv("STACK_PORT")
    asked: list[str] = []
    monkeypatch.setattr(stack_script, "http_status", lambda url, timeout=2.0: asked.append(url) or 200)
    code, line = run_main(stack_script, capsys, "status")
    assert asked == ["http://127.0.0.1:18490/readyz"]
    assert (code, line) == (0, "stack: http://127.0.0.1:18490/readyz -> 200")
