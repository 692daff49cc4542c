"""Run the official RealWorld suites (Hurl files and Postman collection, unchanged) against the server.

For each backend (SQLite, then PostgreSQL): make a fresh database, `conduit deploy`, start gunicorn on a
free loopback port, wait for /readyz, run the RealWorld runner (harness/realworld.py: REALWORLD_DIR),
stop gunicorn, drop the
database. The `nginx` backend does the same through the whole stack of `make stack` (nginx in front of two
gunicorn instances in production mode, PostgreSQL, Redis), started on free ports in a temporary
directory and stopped afterwards. Exits non-zero when a suite fails or a backend cannot run.

    python bin/conformance.py [--backend sqlite|postgresql|nginx ...]

PostgreSQL is the server at TEST_DATABASE_URL or postgresql://postgres@127.0.0.1:5432/postgres; a
database named conduit_conformance_<pid> is created on it and dropped afterwards. Without a server the
PostgreSQL run is skipped with a warning, unless CI=true, where that is a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.net import free_port  # noqa: E402
from harness.realworld import RealWorldMissingError, conformance_tool  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def log(message: str) -> None:
    print(f"[conformance] {message}", flush=True)


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="conduit-conformance-") as tmp:
        yield f"sqlite:///{tmp}/conduit.db"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    import sqlalchemy as sa

    from conduit.settings import normalize_database_url

    server = normalize_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG))
    name = f"conduit_conformance_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL we built
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def run_backend(backend: str, tool: Path) -> bool:
    conduit = str(Path(sys.executable).with_name("conduit"))
    database = sqlite_database() if backend == "sqlite" else postgres_database()
    with database as url:
        env = {
            **os.environ,
            "CONDUIT_ENV": "testing",
            # The suites register with password123: no common-password check (off in testing anyway;
            # explicit, so that a PASSWORD_BLOCKLIST in the caller's shell cannot fail the run).
            "PASSWORD_BLOCKLIST": "false",
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
            "PORT": str(free_port()),
            "WEB_CONCURRENCY": "2",
        }
        log(f"{backend}: conduit deploy")
        subprocess.run([conduit, "deploy"], env=env, check=True, cwd=ROOT)  # noqa: S603
        origin = f"http://127.0.0.1:{env['PORT']}"
        log(f"{backend}: starting gunicorn on {origin}")
        server = subprocess.Popen([conduit, "serve"], env=env, cwd=ROOT)  # noqa: S603
        try:
            wait_ready(f"{origin}/readyz", server)
            log(f"{backend}: running {tool} {origin}")
            result = subprocess.run([str(tool), origin], cwd=ROOT, check=False)  # noqa: S603
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        passed = result.returncode == 0
        log(f"{backend}: {'PASSED' if passed else 'FAILED'}")
        return passed


def run_stack(tool: Path) -> bool:
    """Conformance through nginx: bin/stack.py up on free ports, the suites, bin/stack.py down."""
    stack = [sys.executable, str(ROOT / "bin" / "stack.py")]
    with postgres_database() as url, tempfile.TemporaryDirectory(prefix="conduit-stack-") as tmp:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "STACK_DIR": tmp,
            "STACK_PORT": str(port),
            "STACK_APP_PORTS": f"{free_port()},{free_port()}",
            "WEB_CONCURRENCY": "2",
            # bin/stack.py runs the production profile, whose common-password list refuses the
            # suites' password123 (docs/security.md, "Common passwords").
            "PASSWORD_BLOCKLIST": "false",
        }
        for name in ("CONDUIT_ENV", "SECRET_KEY", "REDIS_URL", "LOG_LEVEL"):
            env.pop(name, None)
        log("nginx: bin/stack.py up")
        try:
            subprocess.run([*stack, "up"], env=env, check=True, cwd=ROOT)  # noqa: S603
            origin = f"http://127.0.0.1:{port}"
            log(f"nginx: running {tool} {origin}")
            result = subprocess.run([str(tool), origin], cwd=ROOT, check=False)  # noqa: S603
        finally:
            subprocess.run([*stack, "down"], env=env, check=False, cwd=ROOT)  # noqa: S603
        passed = result.returncode == 0
        log(f"nginx: {'PASSED' if passed else 'FAILED'}")
        return passed


def postgres_available() -> bool:
    import sqlalchemy as sa

    from conduit.settings import normalize_database_url

    server = normalize_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG))
    try:
        engine = sa.create_engine(server, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except sa.exc.OperationalError as exc:
        log(f"PostgreSQL is not available: {str(exc).splitlines()[0]}")
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "nginx"], action="append")
    args = parser.parse_args()
    try:
        tool = conformance_tool()
    except RealWorldMissingError as missing:
        log(str(missing))
        return 1
    results: dict[str, str] = {}
    for backend in args.backend or ["sqlite", "postgresql", "nginx"]:
        if backend in ("postgresql", "nginx") and not postgres_available():
            results[backend] = "FAILED (no server; CI=true)" if IN_CI else "SKIPPED (no server)"
            continue
        try:
            passed = run_stack(tool) if backend == "nginx" else run_backend(backend, tool)
            results[backend] = "passed" if passed else "FAILED"
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            results[backend] = f"FAILED ({exc})"
    for backend, outcome in results.items():
        log(f"summary: {backend}: {outcome}")
    return 0 if all(not outcome.startswith("FAILED") for outcome in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
