"""Wait until Conduit's database answers: bounded attempts, one line per failed attempt, exit 1 at the end.

Run by deploy/docker/entrypoint.sh before migrations and the server. The URL comes from Conduit's settings
(DATABASE_URL, .env, CONDUIT_CONFIG_FILE), shown without its password. SQLite needs no wait. Tuning:
DB_WAIT_ATTEMPTS (default 30) and DB_WAIT_INTERVAL (seconds between attempts, default 2).
"""

from __future__ import annotations

import os
import sys
import time

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from conduit.settings import ConfigError, load_settings


def say(line: str) -> None:
    sys.stderr.write(f"wait-for-db: {line}\n")
    sys.stderr.flush()


def _positive(name: str, default: str) -> float:
    raw = os.environ.get(name, default)
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if value <= 0:
        sys.exit(f"wait-for-db: {name} must be a positive number, not {raw!r}")
    return value


def main() -> int:
    attempts = int(_positive("DB_WAIT_ATTEMPTS", "30"))
    interval = _positive("DB_WAIT_INTERVAL", "2")
    try:
        settings = load_settings()
    except ConfigError as exc:
        say(f"refusing to start: {exc}")
        return 4
    if settings.is_sqlite:
        return 0
    engine = sa.create_engine(
        settings.database_url,
        poolclass=NullPool,
        connect_args={"connect_timeout": settings.db_connect_timeout},
    )
    shown = engine.url.render_as_string(hide_password=True)
    for attempt in range(1, attempts + 1):
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            say(f"{shown} does not answer (attempt {attempt}/{attempts}): {reason}")
            if attempt < attempts:
                time.sleep(interval)
        else:
            say(f"{shown} answers")
            return 0
    say(
        f"giving up: {shown} did not answer after {attempts} attempts {interval:g} s apart; "
        "check DATABASE_URL and that the server runs"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
