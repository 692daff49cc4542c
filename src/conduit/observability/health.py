"""Liveness (``/healthz``: the process answers, no I/O) and readiness (``/readyz``: the database answers).

Redis, when configured, is reported but is not required: the app serves without it, and a 503 for a
Redis outage would take every replica out of the load balancer at once. So an unavailable Redis leaves
``/readyz`` at 200 with ``checks.redis = "unavailable"`` and ``"degraded": ["redis"]``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from conduit import __version__
from conduit.extensions import current_settings
from conduit.storage.database import get_db
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


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int, dict[str, str]]:
    checks: dict[str, str] = {}
    # The write engine's session: a transaction, for SET LOCAL (reads run in autocommit).
    with get_db().standalone_session() as db:
        try:
            if db.get_bind().dialect.name == "postgresql":
                timeout = int(current_settings().readiness_timeout_ms)
                db.execute(text(f"SET LOCAL statement_timeout = {timeout}"))
            db.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except SQLAlchemyError as exc:
            log.warning("readiness check failed: %s", str(exc).splitlines()[0])
            checks["database"] = "unavailable"
        finally:
            db.rollback()
    state = shared_state()
    if state is not None:
        checks["redis"] = "ok" if state.ping() else "unavailable"
    failing = [name for name, value in checks.items() if value != "ok"]
    body: dict[str, Any] = {"status": "ready", "checks": checks, **build()}
    degraded = [name for name in failing if name in OPTIONAL_CHECKS]
    if degraded:
        body["degraded"] = degraded
    failed = {name: [f"is {checks[name]}"] for name in failing if name not in OPTIONAL_CHECKS}
    if not failed:
        return body, 200, {}
    body.update(status="not ready", errors=failed)
    return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
