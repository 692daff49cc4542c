"""Liveness (``/healthz``: the process answers, no I/O) and readiness (``/readyz``: the database answers)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from conduit.api import settings
from conduit.db import session
from conduit.errors import RETRY_AFTER_SECONDS

bp = Blueprint("health", __name__)
log = logging.getLogger("conduit.health")


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int, dict[str, str]]:
    db = session()
    checks: dict[str, str] = {}
    try:
        if db.get_bind().dialect.name == "postgresql":
            timeout = int(settings().readiness_timeout_ms)
            db.execute(text(f"SET LOCAL statement_timeout = {timeout}"))
        db.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        log.warning("readiness check failed: %s", str(exc).splitlines()[0])
        checks["database"] = "unavailable"
    finally:
        db.rollback()
    if all(value == "ok" for value in checks.values()):
        return {"status": "ready", "checks": checks}, 200, {}
    failed = {name: [f"is {state}"] for name, state in checks.items() if state != "ok"}
    body = {"status": "not ready", "checks": checks, "errors": failed}
    return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
