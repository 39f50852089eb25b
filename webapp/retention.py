"""Retention: the worker's "retention" task source empties what grows with every send, once it is old.

After RETENTION_DAYS (webapp/config.py):
- a sent message keeps a thin row (recipient, subject, kind, status, times, attempts) and loses its
  bodies, attachments and secret links. The row stays so that the Sent mail counts, the list, the
  enrolment timelines that link to it and the booking's messages stay true; the bodies are what is big.
- a completed enrolment's step runs keep their rows (step, status, times, attempts: the timeline and
  the exactly-once record) and the ids that tie them to rows that stay (the link, the message, the
  branch taken), and lose the rest of their output (webhook responses, summaries) and their errors.
Queued, retrying, held and failed mail, and active or failed enrolments (an admin may retry them),
are never touched; links, bookings and enrolments are never deleted, so every count and the funnel
stay as they were.

Each batch is one short UPDATE that stamps pruned_at: its subquery finds the batch over an index
(ix_outbox_messages_prune, ix_enrolments_prune: a pruned row is never read again), the UPDATE takes
those rows by primary key, so the cost of a round grows neither with the table nor with the backlog.
The outer WHERE repeats only "pruned_at IS NULL" (sent mail stays sent, a completed enrolment stays
completed): more would let the database walk the whole backlog through the index for each batch.
Several workers may prune at once: a row another one just stamped no longer matches that WHERE.
"""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from webapp import claims
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.worker import register_task_source
from webapp.workflows.models import Enrolment, StepRun

# Rows per batch: each batch is its own transaction, short enough never to hold up a send.
MAIL_BATCH = 200
ENROLMENT_BATCH = 100  # and their step runs, a few hundred
# After a round that found nothing old, the next look waits this long: retention counts in days.
IDLE = timedelta(minutes=1)
# What a pruned step run's output keeps: references to rows that are never pruned.
KEPT_OUTPUT = ("link_id", "outbox_id", "branch")


def cutoff(now: datetime) -> datetime:
    """Rows older than this (sent, or finished, before it) are pruned."""
    return now - timedelta(days=current_app.config["RETENTION_DAYS"])


def mail_due(before: datetime) -> tuple:
    """Sent messages, still whole, sent before `before`: the WHERE that ix_outbox_messages_prune serves."""
    return (OutboxMessage.status == "sent", OutboxMessage.pruned_at.is_(None), OutboxMessage.sent_at < before)


def enrolments_due(before: datetime) -> tuple:
    """Completed enrolments, details still kept, finished before `before` (ix_enrolments_prune)."""
    return (Enrolment.status == "completed", Enrolment.pruned_at.is_(None), Enrolment.finished_at < before)


def mail_batch(before: datetime, limit: int):
    """The ids of the oldest `limit` sent messages to prune."""
    return select(OutboxMessage.id).where(*mail_due(before)).order_by(OutboxMessage.sent_at).limit(limit)


def enrolment_batch(before: datetime, limit: int):
    """The ids of the oldest `limit` completed enrolments whose step details to prune."""
    return select(Enrolment.id).where(*enrolments_due(before)).order_by(Enrolment.finished_at).limit(limit)


def prune_mail(limit: int = MAIL_BATCH, now: datetime | None = None) -> int:
    """Empty the bodies of up to `limit` old sent messages in one statement; commits, returns how many."""
    now = now or utcnow()
    before = cutoff(now)
    claims.relaxed_commit()
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(mail_batch(before, limit)), OutboxMessage.pruned_at.is_(None))
        .values(text_body="", html_body="", attachments=[], secret_links=[], link_nonce="", pruned_at=now),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return result.rowcount  # type: ignore[attr-defined]  # DML gives a CursorResult


def thin(output: dict | None) -> dict:
    """A step run's output as retention leaves it: only the references in KEPT_OUTPUT."""
    return {key: value for key, value in (output or {}).items() if key in KEPT_OUTPUT}


def prune_steps(limit: int = ENROLMENT_BATCH, now: datetime | None = None) -> int:
    """Empty the step details of up to `limit` enrolments that completed long ago; commits, returns how many."""
    now = now or utcnow()
    before = cutoff(now)
    claims.relaxed_commit()
    # The enrolments first: the UPDATE takes the write lock (SQLite) and decides, row by row, who prunes.
    ids = list(
        db.session.scalars(
            update(Enrolment)
            .where(Enrolment.id.in_(enrolment_batch(before, limit)), Enrolment.pruned_at.is_(None))
            .values(pruned_at=now, last_error="")
            .returning(Enrolment.id),
            execution_options={"synchronize_session": False},
        )
    )
    if ids:
        runs = db.session.execute(
            select(StepRun.id, StepRun.output, StepRun.error).where(StepRun.enrolment_id.in_(ids))
        ).all()
        changed = [
            {"id": run_id, "output": thin(output), "error": ""}
            for run_id, output, error in runs
            if error or thin(output) != (output or {})
        ]
        if changed:
            db.session.execute(update(StepRun), changed)  # one executemany, by primary key
    db.session.commit()
    return len(ids)


def run(limit: int) -> int:
    """The task source: one batch of each kind (sizes of their own: a row costs far less than a task);
    returns the rows pruned. After a round with nothing to prune it rests for IDLE."""
    state = current_app.extensions.setdefault("retention", {})
    now = utcnow()
    rested = state.get("idle_since")
    if rested is not None and timedelta(0) <= now - rested < IDLE:
        return 0
    done = prune_mail(now=now) + prune_steps(now=now)
    state["idle_since"] = None if done else now
    return done


def init_app(app) -> None:
    """Make retention a task source of `flask worker`."""
    register_task_source("retention", run)
