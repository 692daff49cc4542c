"""The idempotent deployment task (seed 001's ``flask deploy``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from conduit.storage import migrations as migrate
from conduit.storage.database import get_db
from conduit.users.models import Role


@dataclass
class DeployReport:
    #: What this run changed, one line each: empty when everything was already in place.
    changes: list[str] = field(default_factory=list)
    #: Things worth knowing that are not changes.
    notes: list[str] = field(default_factory=list)


def run_deploy() -> DeployReport:
    """Migrate to the latest revision, insert or correct the roles. It grants no role to anyone: an
    administrator is made by the operator with ``conduit create-admin``."""
    database = get_db()
    if database.engine is None:
        raise RuntimeError("the database is not initialised")
    report = DeployReport()
    changes = report.changes
    before = migrate.current_revision(database.engine)
    head = migrate.head_revision(database.engine)
    if before != head:
        migrate.upgrade(database.engine)
        changes.append(f"migrated the database from {before or 'empty'} to {head}")
    with database.standalone_session() as db:
        changes += Role.insert_roles(db)
        db.commit()
    return report
