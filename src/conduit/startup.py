"""What every entry point checks before it serves or deploys: ``conduit serve``, ``conduit deploy``,
gunicorn's master (deploy/gunicorn.conf.py), uWSGI's master and any WSGI server importing
:mod:`conduit.wsgi`.

A failure is one line on stderr that names the setting, and exit status 4 (gunicorn's "app failed to
load", so its master stops instead of respawning workers forever): never a traceback.
"""

from __future__ import annotations

import errno
import socket
import sys
from typing import Any, NoReturn

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from conduit.settings import ConfigError, Settings, load_settings

EXIT_STATUS = 4


def refuse(reason: object) -> NoReturn:
    sys.stderr.write(f"conduit: refusing to start: {reason}\n")
    sys.stderr.flush()
    raise SystemExit(EXIT_STATUS)


def load_settings_or_exit(*, check_database: bool = False, **overrides: Any) -> Settings:
    """The settings, or one line and exit 4. With *check_database*, the database must answer too."""
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        refuse(exc)
    if check_database:
        problem = database_problem(settings)
        if problem:
            refuse(problem)
    return settings


def database_problem(settings: Settings) -> str | None:
    """None when the database of ``DATABASE_URL`` answers; otherwise one line saying what to do."""
    from conduit.storage.database import make_engine  # the settings check alone needs no driver

    url = make_url(settings.database_url)
    where = (
        url.database
        if url.get_backend_name() == "sqlite"
        else f"{url.host or 'localhost'}:{url.port or 5432}"
    )
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        if "does not exist" in detail and "database" in detail:
            return (
                f"DATABASE_URL: the database {url.database!r} does not exist on {where}; "
                f"create it (createdb {url.database}), then run conduit deploy"
            )
        return f"DATABASE_URL: cannot connect to {where}: {detail}"
    except (SQLAlchemyError, OSError) as exc:
        return f"DATABASE_URL: cannot open {where}: {str(exc).strip().splitlines()[0]}"
    finally:
        engine.dispose()
    return None


def port_problem(addresses: list[str]) -> str | None:
    """None when every ``host:port`` of gunicorn's bind list is free; otherwise one line with the hint."""
    for address in addresses:
        if address.startswith(("unix:", "fd://")):
            continue
        host, _, port = address.rpartition(":")
        host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - what gunicorn binds for ":8000"  # nosec B104
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            try:
                probe.bind((host, int(port)))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return (
                        f"PORT: {host}:{port} is already in use; pick another one, e.g. PORT={int(port) + 1}"
                    )
                return f"GUNICORN_BIND: cannot listen on {address}: {exc.strerror}"
    return None
