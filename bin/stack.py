"""The whole Conduit topology on this machine, with real processes: ``make stack`` and its friends.

nginx (from the Debian package) on http://127.0.0.1:$STACK_PORT in front of two gunicorn instances,
PostgreSQL and Redis. PostgreSQL is the server at DATABASE_URL when it answers, otherwise a private cluster
made with initdb under var/; Redis likewise (REDIS_URL, otherwise a private redis-server). What this
script starts is recorded in pid files under var/run/, and ``down`` stops exactly that.

Environment: STACK_PORT (8080), STACK_APP_PORTS (8001,8002), STACK_DIR (var/ of the checkout),
DATABASE_URL, REDIS_URL, WEB_CONCURRENCY (workers per app server; default CPU cores + 1).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from conduit.ops.nginx_config import (
    STATIC_ROOT,
    NginxTarget,
    StandaloneNginx,
    worker_user_for,
    write_standalone,
)
from conduit.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.net import free_port, http_status, port_in_use, wait_for  # noqa: E402

BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/conduit_stack"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 40.0  # above gunicorn's graceful_timeout (30 s)
#: Variables of the caller's shell that must not leak into the app servers' environment.
APP_OWNED = ("CONDUIT_ENV", "SECRET_KEY", "DEBUG", "TESTING", "GUNICORN_BIND", "HOST", "PORT")


class StackError(Exception):
    """A reason to stop, said in one line."""


@dataclass(frozen=True)
class Layout:
    state: Path
    port: int
    app_ports: tuple[int, ...]

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def logs(self) -> Path:
        return self.state / "log"

    @property
    def stack(self) -> Path:
        return self.state / "stack"

    @property
    def nginx_prefix(self) -> Path:
        return self.stack / "nginx"

    @property
    def manifest(self) -> Path:
        return self.run / "stack.json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Component:
    """One process the stack started: how to recognise it and how to stop it."""

    name: str
    pid_file: str
    marker: str  # a word its command line must hold, so a recycled PID is never signalled
    stop: str = "term"  # term | nginx | pg_ctl
    data_dir: str = ""

    def pid(self) -> int | None:
        try:
            pid = int(Path(self.pid_file).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _is_running(pid, self.marker) else None


def say(message: str) -> None:
    print(f"stack: {message}", flush=True)


def _is_running(pid: int, marker: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return marker in cmdline


def layout_from_env() -> Layout:
    try:
        port = int(os.environ.get("STACK_PORT", "8080"))
        app_ports = tuple(int(p) for p in os.environ.get("STACK_APP_PORTS", "8001,8002").split(","))
    except ValueError:
        raise StackError(
            "STACK_PORT and STACK_APP_PORTS must be port numbers (e.g. 8080 and 8001,8002)"
        ) from None
    if len(app_ports) < 1 or len({port, *app_ports}) != len(app_ports) + 1:
        raise StackError("STACK_PORT and STACK_APP_PORTS must be distinct ports")
    return Layout(Path(os.environ.get("STACK_DIR", ROOT / "var")).resolve(), port, app_ports)


# --- state -------------------------------------------------------------------------------------------


def saved_url(layout: Layout) -> str:
    """The address the running stack was started on (its STACK_PORT), not this shell's."""
    try:
        url = json.loads(layout.manifest.read_text())["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return layout.url
    return url if isinstance(url, str) else layout.url


def load_components(layout: Layout) -> list[Component]:
    try:
        return [Component(**entry) for entry in json.loads(layout.manifest.read_text())["components"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def save_components(layout: Layout, components: list[Component]) -> None:
    layout.run.mkdir(parents=True, exist_ok=True)
    body = {"url": layout.url, "components": [vars(c) for c in components]}
    layout.manifest.write_text(json.dumps(body, indent=2) + "\n")


# --- checks ------------------------------------------------------------------------------------------


def find_nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found:
        return found
    if os.geteuid() != 0:
        raise StackError("nginx is not installed; run: sudo apt-get install -y --no-install-recommends nginx")
    say("nginx is missing: installing the Debian package (apt-get install nginx)")
    install = [str(ROOT / "bin" / "system-packages"), "nginx"]
    if subprocess.run(install, check=False).returncode != 0:  # noqa: S603 - our own script
        raise StackError("could not install nginx with apt-get; install it and run make stack again")
    return find_nginx()


def find_postgres_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(candidates[0]) if candidates else None


# --- PostgreSQL ----------------------------------------------------------------------------------------


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def postgres_answers(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(_psycopg_url(url), dbname="postgres", connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    if not name:
        raise StackError(f"DATABASE_URL names no database: {url}")
    with psycopg.connect(_psycopg_url(url), dbname="postgres", autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            say(f"created database {name}")


def start_private_postgres(layout: Layout) -> tuple[str, Component]:
    initdb, pg_ctl = find_postgres_tool("initdb"), find_postgres_tool("pg_ctl")
    if not (initdb and pg_ctl):
        raise StackError(
            "PostgreSQL does not answer at DATABASE_URL and initdb is not installed "
            "(apt-get install postgresql), so no private cluster can be made either"
        )
    data = layout.stack / "pgdata"
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
    layout.stack.mkdir(parents=True, exist_ok=True)
    if as_user and any(parent.stat().st_mode & 0o001 == 0 for parent in data.parents):
        raise StackError(f"the postgres user cannot reach {data}: give every parent o+x or move STACK_DIR")
    if not (data / "PG_VERSION").exists():
        say(f"PostgreSQL does not answer: creating a private cluster in {data}")
        data.mkdir(mode=0o700, exist_ok=True)
        if as_user:
            shutil.chown(data, "postgres", "postgres")
        run([*as_user, initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"], "initdb")
    logfile = layout.logs / "postgresql.log"
    logfile.touch()
    if as_user:
        shutil.chown(logfile, "postgres", "postgres")
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={data}"
    run(
        [*as_user, pg_ctl, "-D", str(data), "-l", str(logfile), "-o", options, "-w", "-t", "30", "start"],
        "pg_ctl",
    )
    component = Component(
        "postgresql", str(data / "postmaster.pid"), "postgres", stop="pg_ctl", data_dir=str(data)
    )
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/conduit_stack", component


def run(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise StackError(f"{what} failed: {detail[-1] if detail else f'exit {result.returncode}'}")


# --- Redis ---------------------------------------------------------------------------------------------


def redis_answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        return bool(client.ping())
    except (redis.RedisError, ValueError):
        return False


def start_private_redis(layout: Layout) -> tuple[str, Component]:
    server = shutil.which("redis-server")
    if not server:
        raise StackError(
            "Redis does not answer at REDIS_URL and redis-server is not installed (apt-get install redis)"
        )
    port = free_port()
    pid_file = layout.run / "redis.pid"
    say(f"Redis does not answer: starting a private redis-server on 127.0.0.1:{port}")
    command = [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    command += ["--daemonize", "yes", "--pidfile", str(pid_file), "--logfile", str(layout.logs / "redis.log")]
    run(command, "redis-server")
    url = f"redis://127.0.0.1:{port}/0"
    if not wait_for(lambda: redis_answers(url), 10):
        raise StackError(f"the private redis-server did not answer; see {layout.logs / 'redis.log'}")
    return url, Component("redis", str(pid_file), "redis-server")


# --- the app and nginx ---------------------------------------------------------------------------------


def secret_key(layout: Layout) -> str:
    path = layout.stack / "secret_key"
    if not path.exists():
        layout.stack.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def app_environment(database_url: str, redis_url: str, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in APP_OWNED}
    env.update(
        CONDUIT_ENV="production",
        SECRET_KEY=key,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PROXY_TRUSTED_HOPS="1",
        WEB_CONCURRENCY=os.environ.get("WEB_CONCURRENCY", str((os.cpu_count() or 1) + 1)),
    )
    return env


def start_app_server(layout: Layout, port: int, env: dict[str, str]) -> Component:
    logfile = layout.logs / f"app-{port}.log"
    pid_file = layout.run / f"app-{port}.pid"
    with logfile.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(BIN / "conduit"), "serve"],
            cwd=ROOT,
            env={**env, "HOST": "127.0.0.1", "PORT": str(port)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # the stack outlives this script and the terminal's Ctrl-C
        )
    pid_file.write_text(f"{process.pid}\n")
    component = Component(f"gunicorn :{port}", str(pid_file), "gunicorn")
    ready = f"http://127.0.0.1:{port}/readyz"
    if not wait_for(lambda: http_status(ready) == 200, START_TIMEOUT, alive=lambda: process.poll() is None):
        tail = logfile.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise StackError(f"gunicorn on port {port} did not become ready; last log line: {tail[0]}")
    return component


def precompress(static_root: Path) -> int:
    """Write file.gz next to each compressible static file for nginx's gzip_static; returns the count."""
    written = 0
    for path in static_root.rglob("*"):
        if path.suffix not in {".html", ".css", ".js", ".svg", ".json", ".txt"} or path.stat().st_size < 512:
            continue
        target = path.with_name(path.name + ".gz")
        if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
            continue
        target.write_bytes(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
        written += 1
    return written


def start_nginx(layout: Layout, max_body_bytes: int) -> Component:
    nginx = find_nginx()
    precompress(STATIC_ROOT)
    site = NginxTarget(
        upstreams=tuple(f"127.0.0.1:{p}" for p in layout.app_ports),
        http_port=layout.port,
        max_body_bytes=max_body_bytes,
        access_log=str(layout.logs / "nginx-access.log"),
        error_log=str(layout.logs / "nginx-error.log"),
    )
    standalone = StandaloneNginx(
        prefix=layout.nginx_prefix, site=site, user=worker_user_for(STATIC_ROOT, layout.nginx_prefix)
    )
    conf = write_standalone(standalone)
    base = [nginx, "-p", str(standalone.prefix), "-c", str(conf), "-e", str(standalone.error_log)]
    run([*base, "-t", "-q"], "nginx -t")
    run(base, "nginx")
    component = Component("nginx", str(standalone.pid_file), "nginx", stop="nginx")
    if not wait_for(lambda: http_status(f"{layout.url}/healthz") == 200, 10):
        raise StackError(f"nginx does not answer on {layout.url}; see {standalone.error_log}")
    return component


# --- commands ------------------------------------------------------------------------------------------


def up(layout: Layout) -> None:
    running = [c for c in load_components(layout) if c.pid()]
    if running:
        names = ", ".join(c.name for c in running)
        if len(running) == len(load_components(layout)):
            say(f"already running ({names}): {layout.url}")
            return
        raise StackError(f"partly running ({names}); run `make stack-down` first")
    for port in (layout.port, *layout.app_ports):
        if port_in_use(port):
            raise StackError(f"port {port} is in use; set STACK_PORT / STACK_APP_PORTS or free it")
    for directory in (layout.run, layout.logs, layout.stack):
        directory.mkdir(parents=True, exist_ok=True)
    find_nginx()  # fail (or install) before anything starts

    started: list[Component] = []
    try:
        database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
        if not database_url.startswith(("postgresql", "postgres")):
            raise StackError(f"the stack runs on PostgreSQL; DATABASE_URL is {database_url.split(':')[0]}")
        if not postgres_answers(database_url):
            database_url, component = start_private_postgres(layout)
            started.append(component)
            save_components(layout, started)
        ensure_database(database_url)
        say(f"PostgreSQL: {database_url.rsplit('@', 1)[-1]}")

        redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
        if not redis_answers(redis_url):
            redis_url, component = start_private_redis(layout)
            started.append(component)
            save_components(layout, started)
        say(f"Redis: {redis_url.rsplit('@', 1)[-1]}")

        env = app_environment(database_url, redis_url, secret_key(layout))
        say("conduit deploy (migrations, roles)")
        run([str(BIN / "conduit"), "deploy"], "conduit deploy", env=env)

        for port in layout.app_ports:
            say(f"starting gunicorn on 127.0.0.1:{port} (workers: {env['WEB_CONCURRENCY']})")
            started.append(start_app_server(layout, port, env))
            save_components(layout, started)

        try:
            max_body = load_settings(
                database_url=database_url, secret_key=env["SECRET_KEY"]
            ).max_content_length
        except ConfigError as error:
            raise StackError(str(error)) from None
        say(f"starting nginx on {layout.url}")
        started.append(start_nginx(layout, max_body))
        save_components(layout, started)
    except BaseException:
        say("stopping what was started")
        stop_all(started)
        save_components(layout, [])
        raise
    say(f"up: {layout.url}  (logs in {layout.logs}; `make stack-down` stops it)")


def stop_all(components: list[Component]) -> list[str]:
    stopped = []
    for component in reversed(components):
        pid = component.pid()
        if pid is None:
            continue
        if component.stop == "pg_ctl":
            pg_ctl = find_postgres_tool("pg_ctl") or "pg_ctl"
            as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            command = [*as_user, pg_ctl, "-D", component.data_dir, "-m", "fast", "-w", "stop"]
            subprocess.run(command, capture_output=True, check=False)  # noqa: S603
        else:
            # nginx: QUIT is its graceful shutdown; gunicorn and redis: TERM is theirs.
            os.kill(pid, signal.SIGQUIT if component.stop == "nginx" else signal.SIGTERM)
        if not wait_for(lambda pid=pid, c=component: not _is_running(pid, c.marker), STOP_TIMEOUT):
            os.kill(pid, signal.SIGKILL)
            say(f"{component.name} did not stop in {STOP_TIMEOUT:.0f} s: killed")
        stopped.append(component.name)
    return stopped


def down(layout: Layout) -> None:
    components = load_components(layout)
    stopped = stop_all(components)
    save_components(layout, [])
    say(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


def status(layout: Layout) -> int:
    components = load_components(layout)
    if not components:
        say("not running")
        return 3
    for component in components:
        pid = component.pid()
        say(f"{component.name:<16} {'running, pid ' + str(pid) if pid else 'NOT running'}")
    url = saved_url(layout)
    health = http_status(f"{url}/readyz")
    say(f"{url}/readyz -> {health or 'no answer'}")
    return 0 if health == 200 and all(c.pid() for c in components) else 1


def main(argv: Iterator[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        layout = layout_from_env()
        if args.command == "up":
            up(layout)
        elif args.command == "down":
            down(layout)
        else:
            return status(layout)
    except StackError as error:
        say(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
