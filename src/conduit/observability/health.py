"""Liveness (``/healthz``: the process answers, no I/O) and readiness (``/readyz``: the database answers
at the schema revision this code was written for).

The schema check costs no extra query: the probe reads ``alembic_version`` where it used to ``SELECT 1``
(one row, primary key; a round trip either way), and the code's head revision is read from the migration
scripts once per process. It is not cached across probes, on purpose: a replica must leave the load
balancer as soon as the schema moves under it (an older release against a newer schema), and see the
migration the moment ``conduit deploy`` has run. Only when that query fails does a ``SELECT 1`` tell a
missing schema (503, ``schema``) from a database that does not answer (503, ``database``).

Redis, when configured, is reported but is not required: the app serves without it, and a 503 for a
Redis outage would take every replica out of the load balancer at once. So an unavailable Redis leaves
``/readyz`` at 200 with ``checks.redis = "unavailable"`` and ``"degraded": ["redis"]``.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from flask import Blueprint, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from conduit import __version__
from conduit.extensions import current_settings
from conduit.storage.database import get_db
from conduit.storage.revisions import migrations_dir, read_scripts
from conduit.storage.shared_state import shared_state
from conduit.web.errors import RETRY_AFTER_SECONDS

bp = Blueprint("health", __name__)
log = logging.getLogger("conduit.observability.health")
#: Reported, but their failure only degrades the service: readiness stays 200.
OPTIONAL_CHECKS = frozenset({"redis"})


#: The build on every probe answer, so a rollout can be followed replica by replica.
VERSION_HEADER = "X-Conduit-Version"


def build() -> dict[str, str]:
    return {"version": __version__, "revision": current_settings().conduit_revision}


@bp.after_request
def _add_version(response: Response) -> Response:
    version = build()
    response.headers[VERSION_HEADER] = f"{version['version']} ({version['revision']})"
    return response


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    return {"status": "ok", **build()}


@functools.cache
def code_revisions() -> tuple[str | None, frozenset[str]]:
    """The head revision of the migrations this code carries, and every revision it knows: read from the
    scripts once per process, without Alembic (:mod:`conduit.storage.revisions`)."""
    scripts = read_scripts(migrations_dir() / "versions")
    return scripts.head, scripts.known


def _schema_problem(database_revisions: list[str]) -> tuple[str, str] | None:
    """(state, reason) when the database's schema does not fit this code; None at the code's head."""
    head, known = code_revisions()
    if database_revisions == [head]:
        return None
    found = ", ".join(database_revisions) or "no revision (empty)"
    if all(revision in known for revision in database_revisions):
        return (
            "behind",
            f"is behind: the database is at {found}, this release needs {head}; run conduit deploy",
        )
    return "ahead", (
        f"is ahead: the database is at {found}, which this release does not know (its head is {head}); "
        "an older release is running against a newer schema"
    )


def _database_revisions() -> list[str]:
    """The revisions in ``alembic_version`` (none when the table is missing); raises when the database
    does not answer. A failed connect is not tried twice: an outage costs one connect timeout."""
    # The write engine's session: a transaction, for SET LOCAL (reads run in autocommit).
    with get_db().standalone_session() as db:
        try:
            db.connection()
            try:
                _statement_timeout(db)
                return list(db.execute(text("SELECT version_num FROM alembic_version")).scalars())
            except SQLAlchemyError as exc:
                if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                    raise  # the connection broke: the database, not the schema
                db.rollback()
            _statement_timeout(db)
            db.execute(text("SELECT 1"))  # it answers: the schema is missing, not the database
            return []
        finally:
            db.rollback()


def _statement_timeout(db: Session) -> None:
    if db.get_bind().dialect.name == "postgresql":
        timeout = int(current_settings().readiness_timeout_ms)
        db.execute(text(f"SET LOCAL statement_timeout = {timeout}"))


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int, dict[str, str]]:
    checks: dict[str, str] = {}
    reasons: dict[str, str] = {}
    try:
        problem = _schema_problem(_database_revisions())
    except SQLAlchemyError as exc:
        log.warning("readiness check failed: %s", str(exc).splitlines()[0])
        checks["database"] = "unavailable"
    else:
        checks["database"] = "ok"
        checks["schema"] = "ok" if problem is None else problem[0]
        if problem is not None:
            reasons["schema"] = problem[1]
            log.warning("not ready: the schema %s", problem[1])
    state = shared_state()
    if state is not None:
        checks["redis"] = "ok" if state.ping() else "unavailable"
    failing = [name for name, value in checks.items() if value != "ok"]
    body: dict[str, Any] = {"status": "ready", "checks": checks, **build()}
    degraded = [name for name in failing if name in OPTIONAL_CHECKS]
    if degraded:
        body["degraded"] = degraded
    failed = {
        name: [reasons.get(name, f"is {checks[name]}")] for name in failing if name not in OPTIONAL_CHECKS
    }
    if not failed:
        return body, 200, {}
    body.update(status="not ready", errors=failed)
    return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
