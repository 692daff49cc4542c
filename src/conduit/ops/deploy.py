"""The idempotent deployment task (seed 001's ``flask deploy``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from conduit.extensions import current_settings
from conduit.storage import migrations as migrate
from conduit.storage.database import get_db
from conduit.users.models import Role
from conduit.users.queries import ADMINISTRATOR, find_by_email, role_named


@dataclass
class DeployReport:
    #: What this run changed, one line each: empty when everything was already in place.
    changes: list[str] = field(default_factory=list)
    #: Things worth knowing that are not changes.
    notes: list[str] = field(default_factory=list)


def run_deploy() -> DeployReport:
    """Migrate to the latest revision, insert or correct the roles, promote the configured admin."""
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
        admin_email = current_settings().conduit_admin_email
        if admin_email:
            admin = role_named(db, ADMINISTRATOR)
            user = find_by_email(db, admin_email)
            if admin is None:
                raise RuntimeError("the Administrator role is missing after insert_roles()")
            if user is None:
                report.notes.append(
                    f"CONDUIT_ADMIN_EMAIL {admin_email} has no account yet; "
                    "it becomes an administrator when it registers"
                )
            elif user.role_id != admin.id:
                user.role = admin
                changes.append(f"gave {user.username} the Administrator role")
        db.commit()
    return report
