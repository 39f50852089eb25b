"""/readyz's checks: whether this installation can do its work now, and if not, why.

Each check is one cheap, indexed query: the database answers; its migration (alembic_version) is the
code's head, which is read from the migration scripts once per process; some worker beat within the
last minute (worker_heartbeats.beat_at); the oldest due job of each source /readyz watches (the
outbox, the enrolments: `worker.register_backlog(…, readiness=True)`) waited at most
READY_MAX_LAG_SECONDS. A reason has a stable `code` for machines and a `message` for people, and says
nothing secret (no address, no revision, no error text).
"""

import functools
from dataclasses import asdict, dataclass
from datetime import timedelta

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webapp import heartbeat, worker
from webapp.clock import utcnow
from webapp.extensions import db

# A worker beats every HEARTBEAT_SECONDS (10); a minute without one means none is running.
HEARTBEAT_WITHIN = timedelta(minutes=1)

DATABASE_UNREACHABLE = "database_unreachable"
MIGRATIONS_NOT_AT_HEAD = "migrations_not_at_head"
NO_WORKER = "no_worker_heartbeat"
QUEUE_LAGGING = "queue_lagging"


@dataclass(frozen=True)
class Reason:
    """Why the installation is not ready; `source` names the task source of a lagging queue."""

    code: str
    message: str
    source: str | None = None

    def as_json(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}


@functools.cache
def _migrations(directory: str) -> tuple[frozenset[str], frozenset[str]]:
    """The scripts' heads and every revision they know, read once per process (the scripts ship with the code)."""
    scripts = ScriptDirectory(directory)
    return frozenset(scripts.get_heads()), frozenset(script.revision for script in scripts.walk_revisions())


def _migration_reason() -> Reason | None:
    heads, known = _migrations(current_app.extensions["migrate"].directory)
    try:
        current = frozenset(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:  # no alembic_version table: never migrated
        db.session.rollback()
        current = frozenset()
    if current == heads:
        return None
    if current <= known:
        message = "The database has migrations to apply: run `flask --app wsgi db upgrade`."
    else:
        message = "The database was migrated by a newer release than this one: deploy that release."
    return Reason(MIGRATIONS_NOT_AT_HEAD, message)


def _lag_reasons(now) -> list[Reason]:
    limit = current_app.config["READY_MAX_LAG_SECONDS"]
    reasons = []
    for name, backlog in worker.backlogs(readiness_only=True).items():
        oldest = backlog.oldest(now)
        waited = (now - oldest).total_seconds() if oldest else 0
        if waited > limit:
            message = f"The oldest due job in {name} has waited {waited:.0f} s (the limit is {limit} s)."
            reasons.append(Reason(QUEUE_LAGGING, message, source=name))
    return reasons


def reasons() -> list[Reason]:
    """What keeps the installation from being ready; empty when it is."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return [Reason(DATABASE_UNREACHABLE, "The database does not answer.")]
    try:
        migration = _migration_reason()
        if migration is not None:
            return [migration]  # the tables below may not be what this code reads
        now = utcnow()
        found = []
        if not heartbeat.alive_since(now, HEARTBEAT_WITHIN):
            found.append(Reason(NO_WORKER, "No worker has sent a heartbeat in the last minute: start `flask worker`."))
        return found + _lag_reasons(now)
    except SQLAlchemyError:  # the database went away between the queries
        db.session.rollback()
        return [Reason(DATABASE_UNREACHABLE, "The database stopped answering.")]
