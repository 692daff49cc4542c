"""What each per-request overhead lever of issue 16 costs: process CPU per request with each one switched off.

The app is built as deployed (``CONDUIT_ENV=production``, JSON log lines, Prometheus multiprocess mode with
a directory prepared as gunicorn's master does, ``PROXY_TRUSTED_HOPS=1``, ``METRICS_PORT``, Redis for the
rate limits and the token cache) on a PostgreSQL database of its own, seeded with ``conduit seed``, and its
WSGI callable is driven directly, with no HTTP server, as gunicorn would call it: a fresh environ per
request (the headers nginx sends, a client address from 198.18.0.0/15 that no limit exempts), the body
iterated and closed. The figure is ``time.process_time`` (this process's CPU, every thread) per request.

Levers, each switched off in turn inside this process only (monkey patching; the app has no such switches):

* ``metrics``: the request hooks of :mod:`conduit.observability.metrics` and the pool gauges;
* ``log-line``: the ``conduit.request`` line (what ``LOG_REQUESTS=false`` does; the request id stays);
* ``validation``: flask-openapi3/pydantic validation of the list's query parameters (the view gets the
  same parsed query object, built once);
* ``headers``: the security headers (:mod:`conduit.edge.headers`);
* ``rate-limits``: Flask-Limiter's hooks and the login guard (:mod:`conduit.edge.rate_limits`);
* ``all``: every lever above at once.

Variants take turns within each round (a few dozen requests each), so a change in the machine's other
load hits them alike; the table gives each variant's CPU per request over all its requests and, per
lever, the median and interquartile range of the round-by-round savings. Progress goes to stderr, the
table to stdout (and ``--output``).

    .venv/bin/python bench/overhead.py --requests 50 --rounds 40
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import logging
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
PROTECTED_DATABASES = frozenset({"postgres", "test", "template0", "template1"})
READER = "demo1@demo.example.com"
LIST_PATH = "/api/articles"
LIST_QUERY = "limit=20"
TRIVIAL_PATH = "/api/overhead-trivial"  # added by this study only: every hook, no database, no validation
LEVERS = ("metrics", "log-line", "validation", "headers", "rate-limits")


def say(message: str) -> None:
    sys.stderr.write(f"overhead: {message}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------- setup


def use_server(url: str) -> None:
    """The PostgreSQL server of the whole run (URL without a database)."""
    global POSTGRES
    POSTGRES = url.rstrip("/")


def admin_sql(statement: Any) -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def prepare_database(name: str, users: int, articles: int, env: dict[str, str]) -> None:
    from psycopg import sql

    if name in PROTECTED_DATABASES or not name.replace("_", "").isalnum():
        raise SystemExit(f"overhead: refusing to use database {name!r}; pick a name of the study's own")
    say(f"database {name}: fresh, conduit deploy, conduit seed --users {users} --articles {articles}")
    admin_sql(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin_sql(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    quiet = {**env, "LOG_LEVEL": "WARNING", "SLOW_QUERY_MS": "0"}
    for command in (["deploy"], ["seed", "--users", str(users), "--articles", str(articles)]):
        subprocess.run(  # noqa: S603 - our own console script
            [str(BIN / "conduit"), *command], env=quiet, check=True, stdout=subprocess.DEVNULL
        )


def drop_database(name: str) -> None:
    from psycopg import sql

    admin_sql(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def production_environment(database: str, redis_url: str, prefix: str, metrics_dir: str) -> dict[str, str]:
    """This process's environment for the app: production as deployed in compose.yaml, nothing inherited
    that Conduit reads."""
    from conduit.settings import Settings

    owned = {name.upper() for name in Settings.model_fields} | {"CONDUIT_ENV", "CONDUIT_CONFIG_FILE"}
    env = {k: v for k, v in os.environ.items() if k.upper() not in owned}
    env.update(
        CONDUIT_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=f"{POSTGRES.replace('postgresql://', 'postgresql+psycopg://', 1)}/{database}",
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=prefix,
        PROXY_TRUSTED_HOPS="1",
        METRICS_PORT="9100",
        PROMETHEUS_MULTIPROC_DIR=metrics_dir,
        # `conduit seed` gives the demo accounts password123, which production's common-password list refuses.
        PASSWORD_BLOCKLIST="false",  # noqa: S106 - a switch, not a password
    )
    return env


# ------------------------------------------------------------------------------------------ the driver


class Driver:
    """Calls the WSGI app as gunicorn does: one environ per request, the body iterated and closed."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.addresses = [f"198.18.{i // 256}.{i % 256}" for i in range(2048)]
        self.turn = 0
        self.status = ""

    def environ(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        from werkzeug.test import EnvironBuilder

        builder = EnvironBuilder(
            method=method,
            path=path,
            query_string=query,
            headers={"Host": "conduit.example", "X-Forwarded-Proto": "https", **headers},
            data=body or None,
            content_type="application/json" if body else None,
            environ_base={"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000"},
        )
        template = builder.get_environ()
        builder.close()
        return template

    def _start_response(
        self, status: str, headers: list[Any], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        self.status = status
        return lambda data: None

    def call(self, template: dict[str, Any], body: bytes = b"", keep: list[bytes] | None = None) -> str:
        """The status line; the body's chunks are appended to *keep* when given."""
        environ = template.copy()
        environ["wsgi.input"] = io.BytesIO(body)
        # nginx's X-Forwarded-For: a different client at each request, so no per-address limit is reached
        self.turn += 1
        environ["HTTP_X_FORWARDED_FOR"] = self.addresses[self.turn % len(self.addresses)]
        result = self.app(environ, self._start_response)
        try:
            for chunk in result:
                if keep is not None:
                    keep.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return self.status


# ------------------------------------------------------------------------------------------ the levers


@dataclass
class Lever:
    name: str
    off: Callable[[], None]
    on: Callable[[], None]


@dataclass
class Hooks:
    """The app's hook lists, to take functions out and put the same lists back."""

    app: Any
    saved: dict[str, list[Any]] = field(default_factory=dict)

    def lists(self) -> dict[str, list[Any]]:
        return {
            "before": self.app.before_request_funcs.setdefault(None, []),
            "after": self.app.after_request_funcs.setdefault(None, []),
            "teardown": self.app.teardown_request_funcs.setdefault(None, []),
        }

    def without(self, matches: Callable[[Any], bool]) -> int:
        removed = 0
        for kind, functions in self.lists().items():
            self.saved.setdefault(kind, list(functions))
            kept = [f for f in functions if not matches(f)]
            removed += len(functions) - len(kept)
            functions[:] = kept
        return removed

    def restore(self) -> None:
        for kind, functions in self.lists().items():
            functions[:] = self.saved[kind]
        self.saved.clear()


def _module_of(function: Any) -> str:
    inner = getattr(function, "func", function)  # functools.partial
    owner = getattr(inner, "__self__", None)
    if owner is not None:
        return type(owner).__module__
    return str(getattr(inner, "__module__", ""))


class _Silent:
    def inc(self, *_: float) -> None:
        pass

    def dec(self, *_: float) -> None:
        pass


def build_levers(app: Any) -> dict[str, Lever]:
    from conduit.extensions import SETTINGS
    from conduit.observability import metrics

    settings = SETTINGS.get(app)
    levers: dict[str, Lever] = {}

    def hooks_lever(
        name: str,
        prefixes: tuple[str, ...],
        extra_off: Callable[[], None] | None = None,
        extra_on: Callable[[], None] | None = None,
    ) -> None:
        hooks = Hooks(app)

        def off() -> None:
            removed = hooks.without(lambda f: _module_of(f).startswith(prefixes))
            if removed == 0:
                raise SystemExit(f"overhead: no hook of {prefixes} found; the study is out of date")
            if extra_off:
                extra_off()

        def on() -> None:
            hooks.restore()
            if extra_on:
                extra_on()

        levers[name] = Lever(name, off, on)

    gauge = metrics.DB_POOL_CHECKED_OUT

    def gauges_off() -> None:
        metrics.DB_POOL_CHECKED_OUT = _Silent()  # type: ignore[assignment]

    def gauges_on() -> None:
        metrics.DB_POOL_CHECKED_OUT = gauge

    hooks_lever("metrics", ("conduit.observability.metrics",), gauges_off, gauges_on)

    def log_off() -> None:
        object.__setattr__(settings, "log_requests", False)

    def log_on() -> None:
        object.__setattr__(settings, "log_requests", True)

    levers["log-line"] = Lever("log-line", log_off, log_on)

    endpoint = "articles.get_articles"
    validated = app.view_functions[endpoint]
    inner = validated.__wrapped__
    query_model = _annotation(inner, "query")
    parsed = query_model.model_validate({"limit": LIST_QUERY.split("=")[1]})

    @functools.wraps(inner)
    def unvalidated(**kwargs: Any) -> Any:
        return inner(query=parsed, **kwargs)

    def validation_off() -> None:
        app.view_functions[endpoint] = unvalidated

    def validation_on() -> None:
        app.view_functions[endpoint] = validated

    levers["validation"] = Lever("validation", validation_off, validation_on)
    hooks_lever("headers", ("conduit.edge.headers",))
    hooks_lever("rate-limits", ("conduit.edge.rate_limits", "flask_limiter"))
    return levers


def _annotation(function: Callable[..., Any], name: str) -> Any:
    from typing import get_type_hints

    return get_type_hints(function)[name]


@contextmanager
def switched_off(levers: list[Lever]) -> Iterator[None]:
    for lever in levers:
        lever.off()
    try:
        yield
    finally:
        for lever in reversed(levers):
            lever.on()


# --------------------------------------------------------------------------------------- measurement


def measure(driver: Driver, template: dict[str, Any], requests: int) -> float:
    """ms of process CPU per request over *requests* requests (each must answer 200)."""
    call = driver.call
    started = time.process_time()
    for _ in range(requests):
        status = call(template)
        if not status.startswith("200"):
            raise SystemExit(f"overhead: {template['PATH_INFO']} answered {status}")
    return (time.process_time() - started) * 1000 / requests


def table(results: dict[str, dict[str, list[float]]], variants: list[str], endpoints: list[str]) -> str:
    """ms/request of each variant (all its requests), and what switching the lever off saved: the median
    of the differences with "nothing" round by round (each round measures every variant back to back),
    with their interquartile range."""
    header = " | ".join(f"{e}: ms/request | {e}: saved, ms (IQR) | {e}: share" for e in endpoints)
    lines = [f"| switched off | {header} |", "|---|" + "--:|--:|--:|" * len(endpoints)]
    for variant in variants:
        cells = []
        for endpoint in endpoints:
            base = results[endpoint]["nothing"]
            values = results[endpoint][variant]
            mean = statistics.fmean(values)
            if variant == "nothing":
                cells += [f"{mean:.3f}", "", ""]
                continue
            saved = [b - v for b, v in zip(base, values, strict=True)]
            quartiles = statistics.quantiles(saved, n=4) if len(saved) > 1 else [saved[0], 0, saved[0]]
            median = statistics.median(saved)
            cells += [
                f"{mean:.3f}",
                f"{median:+.3f} ({quartiles[0]:+.3f}..{quartiles[2]:+.3f})",
                f"{median / statistics.fmean(base):.1%}",
            ]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", default=POSTGRES, help="the PostgreSQL server (URL without a database)")
    parser.add_argument("--database", default="conduit_overhead", help="PostgreSQL database of this study")
    parser.add_argument("--reuse-database", action="store_true", help="use it as it is (already seeded)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    parser.add_argument("--users", type=int, default=50, help="conduit seed --users")
    parser.add_argument("--articles", type=int, default=200, help="conduit seed --articles")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--requests", type=int, default=50, help="requests per variant and endpoint per round"
    )
    parser.add_argument("--rounds", type=int, default=40, help="rounds; each measures every variant in turn")
    parser.add_argument("--warmup", type=int, default=200, help="requests per endpoint before measuring")
    parser.add_argument("--levers", nargs="*", default=list(LEVERS), choices=LEVERS)
    parser.add_argument("--output", type=Path, help="also write the table (markdown) here")
    args = parser.parse_args(argv)
    use_server(args.postgres)

    prefix = f"overhead-{os.getpid()}:"
    metrics_tmp = tempfile.mkdtemp(prefix="conduit-overhead-metrics-")
    env = production_environment(args.database, args.redis_url, prefix, metrics_tmp)
    if not args.reuse_database:
        prepare_database(args.database, args.users, args.articles, env)
    os.environ.clear()
    os.environ.update(env)
    try:
        return run(args, prefix)
    finally:
        import shutil

        shutil.rmtree(metrics_tmp, ignore_errors=True)
        _forget_redis_keys(args.redis_url, prefix)
        if not args.keep_database and not args.reuse_database:
            drop_database(args.database)


def _forget_redis_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


def run(args: argparse.Namespace, prefix: str) -> int:
    from conduit.observability import metrics_dir

    metrics_dir.prepare()  # what gunicorn's master does before the workers fork
    from conduit.app import create_app

    app = create_app()
    # The production sink is stderr: the lines are formatted and written as deployed, to /dev/null here.
    devnull = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and (handler.get_name() or "").startswith("conduit-"):
            handler.setStream(devnull if not os.environ.get("OVERHEAD_SHOW_LOG") else sys.stderr)
    app.add_url_rule(TRIVIAL_PATH, "overhead_trivial", lambda: {"ok": True})

    driver = Driver(app)
    login = b'{"user": {"email": "%s", "password": "password123"}}' % READER.encode()
    login_env = driver.environ("POST", "/api/users/login", "", {}, login)
    answer: list[bytes] = []
    status = driver.call(login_env, login, answer)
    if not status.startswith("200"):
        raise SystemExit(f"overhead: login as {READER} answered {status}")
    token = json.loads(b"".join(answer))["user"]["token"]
    headers = {"Authorization": f"Token {token}", "X-Request-ID": secrets.token_hex(16)}
    endpoints = {
        "list (token)": driver.environ("GET", LIST_PATH, LIST_QUERY, headers, b""),
        "trivial": driver.environ("GET", TRIVIAL_PATH, "", {"X-Request-ID": secrets.token_hex(16)}, b""),
    }
    for name, template in endpoints.items():
        say(f"warm-up: {args.warmup} x {name}")
        measure(driver, template, args.warmup)

    levers = build_levers(app)
    chosen = [levers[name] for name in args.levers]
    variants: dict[str, list[Lever]] = {"nothing": [], **{lever.name: [lever] for lever in chosen}}
    if len(chosen) > 1:
        variants["all"] = chosen
    results: dict[str, dict[str, list[float]]] = {name: {v: [] for v in variants} for name in endpoints}
    order = list(variants)
    for round_number in range(args.rounds):
        order = order[1:] + order[:1]  # a different variant first in each round
        for variant in order:
            with switched_off(variants[variant]):
                for name, template in endpoints.items():
                    results[name][variant].append(measure(driver, template, args.requests))
        if (round_number + 1) % max(1, args.rounds // 10) == 0 or round_number + 1 == args.rounds:
            summary = ", ".join(f"{v} {statistics.fmean(results['list (token)'][v]):.2f}" for v in variants)
            say(f"round {round_number + 1}/{args.rounds}: list ms/request so far: {summary}")

    report = (
        f"{args.requests} requests x {args.rounds} rounds per variant and endpoint, taking turns; "
        f"load average {os.getloadavg()[0]:.1f} at the end\n\n"
        + table(results, list(variants), list(endpoints))
        + "\n"
    )
    sys.stdout.write(report)
    if args.output:
        args.output.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
