"""SQL statements per request, counted in-process: the app on the bench database, a SQLAlchemy
``before_cursor_execute`` listener, and Flask's test client sending the requests wrk sends."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event


@dataclass(frozen=True)
class Probe:
    """The requests of one endpoint: method, paths taken in turn, whether they carry the token."""

    method: str
    paths: tuple[str, ...]
    auth: bool
    body: dict[str, Any] | None = None


@contextmanager
def _recording(engines: list[Any]) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def count_statements(
    database_url: str,
    secret_key: str,
    token: str,
    probes: dict[str, Probe],
    samples: int = 5,
    redis: dict[str, str] | None = None,
) -> dict[str, dict[str, float]]:
    """For each probe, the mean and the largest number of statements of *samples* requests. With
    *redis* (REDIS_URL, REDIS_KEY_PREFIX) the app uses Redis as the servers do: the token is checked from
    the worker's cache once its subscription is live."""
    from conduit.app import create_app
    from conduit.storage.database import DATABASE
    from conduit.users.auth import CACHE_EXTENSION

    app = create_app(
        database_url=database_url,
        secret_key=secret_key,
        log_level="WARNING",
        log_requests=False,
        redis_url=(redis or {}).get("REDIS_URL"),
        redis_key_prefix=(redis or {}).get("REDIS_KEY_PREFIX", ""),
    )
    database = DATABASE.get(app)
    engines = database.engines  # writes' and reads' (GET and HEAD run on their own pool)
    client = app.test_client()
    cache = app.extensions.get(CACHE_EXTENSION)
    if cache is not None:
        client.get("/api/articles?limit=1", headers={"Authorization": f"Token {token}"})
        deadline = time.monotonic() + 5
        while not cache.live and time.monotonic() < deadline:
            time.sleep(0.05)
    counts: dict[str, dict[str, float]] = {}
    for name, probe in probes.items():
        headers = {"Authorization": f"Token {token}"} if probe.auth else {}
        seen = []
        for number in range(samples):
            path = probe.paths[number % len(probe.paths)]
            with _recording(engines) as statements:
                response = client.open(path, method=probe.method, headers=headers, json=probe.body)
            if response.status_code >= 400:
                raise RuntimeError(
                    f"{probe.method} {path} answered {response.status_code} while counting SQL"
                )
            seen.append(len(statements))
        counts[name] = {"mean": statistics.fmean(seen), "max": max(seen)}
    if cache is not None:
        cache.stop()
    database.dispose()
    return counts
