"""The engine: the worker's "enrolments" task source claims due enrolments and runs their steps.

A step's side effects (a link, an outbox row), its StepRun "done" record and the enrolment's advance
are ONE transaction, opened by a conditional UPDATE of the enrolment that holds only while this
worker's claim does. A crash anywhere in a step rolls all of it back, and the retry does it once.
Claims work as in the outbox: FOR UPDATE SKIP LOCKED on PostgreSQL, conditional UPDATEs on SQLite.
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from webapp import claims
from webapp.audit import audit
from webapp.calendars.models import Calendar
from webapp.extensions import db
from webapp.mail.services import worker_id
from webapp.types import utcnow
from webapp.workflows import actions, merge
from webapp.workflows.actions import StepContext, StepError
from webapp.workflows.models import Enrolment, StepRun, Workflow

logger = logging.getLogger("oneslot.workflows")

# Seconds to wait after the 1st, 2nd, … failed attempt of a step; after the last one the enrolment fails.
DEFAULT_RETRY_DELAYS = (60, 5 * 60, 30 * 60, 2 * 60 * 60)
DEFAULT_LEASE_SECONDS = 5 * 60
# How often a step that waits (an email in the outbox) looks again.
DEFAULT_POLL_SECONDS = 5  # how soon a Send Email step looks again at its queued message
# A guard against a workflow that never ends within one claim.
MAX_STEPS_PER_CLAIM = 100


def _lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=current_app.config.get("WORKFLOW_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


def _due(now: datetime):
    return (
        Enrolment.status == "active",
        Enrolment.run_at <= now,
        or_(Enrolment.locked_until.is_(None), Enrolment.locked_until < now),
        # A paused workflow's enrolments wait where they are.
        Enrolment.workflow_id.in_(select(Workflow.id).where(Workflow.status != "paused")),
    )


# --- claiming ------------------------------------------------------------------------------------


def claim(limit: int, worker: str, now: datetime | None = None) -> list[int]:
    """Take up to `limit` due enrolments for `worker` and commit the claim; returns their ids (see webapp/claims.py)."""
    now = now or utcnow()
    lease = {"locked_until": _lease_until(now), "locked_by": worker}
    return claims.claim(Enrolment, _due(now), (Enrolment.run_at, Enrolment.id), limit, lease)


def take(ids: Iterable[int], worker: str, now: datetime | None = None) -> list[int]:
    """Claim those of `ids` still due and unclaimed; commits, returns the winners."""
    now = now or utcnow()
    return claims.take(Enrolment, ids, _due(now), {"locked_until": _lease_until(now), "locked_by": worker})


def run_due(limit: int = 10) -> int:
    """The worker's task source: claim up to `limit` due enrolments and run each as far as it goes."""
    worker = worker_id()
    ids = claim(limit, worker)
    for enrolment_id in ids:
        run_enrolment(enrolment_id, worker)
    return len(ids)


# --- running -------------------------------------------------------------------------------------


def run_enrolment(enrolment_id: int, worker: str) -> str:
    """Run the claimed enrolment's steps until it ends, waits, fails or the claim is lost; returns which."""
    outcome = "advanced"
    for _ in range(MAX_STEPS_PER_CLAIM):
        outcome = run_step(enrolment_id, worker)
        if outcome != "advanced":
            break
    _release(enrolment_id, worker)
    return outcome


def _hold(enrolment_id: int, worker: str, now: datetime) -> bool:
    """The first statement of a step's transaction: renew our claim, or learn that we lost it."""
    result = db.session.execute(
        update(Enrolment)
        .where(
            Enrolment.id == enrolment_id,
            Enrolment.status == "active",
            Enrolment.locked_by == worker,
            Enrolment.locked_until > now,
        )
        .values(locked_until=_lease_until(now)),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount == 1


def _step_run(enrolment_id: int, step_id: str) -> StepRun | None:
    return db.session.scalar(
        select(StepRun)
        .where(StepRun.enrolment_id == enrolment_id, StepRun.step_id == step_id)
        .execution_options(populate_existing=True)
    )


def run_step(enrolment_id: int, worker: str) -> str:
    """Run the enrolment's current step in one transaction: advanced, waiting, finished, failed or lost."""
    db.session.commit()  # whatever the session read before is closed: the transaction below sees now
    now = utcnow()
    if not _hold(enrolment_id, worker, now):
        db.session.rollback()
        return "lost"
    enrolment = db.session.get(Enrolment, enrolment_id, populate_existing=True)
    steps = enrolment.version.steps or []
    if enrolment.step_index >= len(steps):
        enrolment.status = "completed"
        enrolment.finished_at = now
        enrolment.run_at = None
        db.session.commit()
        logger.info("enrolment completed enrolment_id=%s", enrolment_id)
        return "finished"
    step = steps[enrolment.step_index]
    run = _step_run(enrolment_id, step["id"])
    if run is not None and run.status == "done":
        enrolment.step_index += 1  # only if a step was recorded done without the advance: never run it twice
        db.session.commit()
        return "advanced"
    try:
        module = actions.get(step.get("type", ""))
        if module is None:
            raise StepError(f"Unknown step type “{step.get('type')}”.", permanent=True)
        ctx = context(enrolment, step, now)
        waiting = run is not None and run.status == "waiting"
        output = dict(run.output) if waiting else module.run(ctx)
        done = module.poll(ctx, output) if hasattr(module, "poll") else True
        _record_done(enrolment, step, run, output, done=done, ran=not waiting, now=now)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        _record_failure(enrolment_id, worker, step, exc)
        return "failed"
    if done:
        logger.info("step done enrolment_id=%s step=%s type=%s", enrolment_id, step["id"], step["type"])
        return "advanced"
    return "waiting"


def _record_done(enrolment, step, run, output, *, done: bool, ran: bool, now: datetime) -> None:
    """The second half of a step: its record and the enrolment's advance (or wait), in the step's transaction."""
    if run is None:
        run = StepRun(enrolment_id=enrolment.id, step_id=step["id"], step_type=step["type"], started_at=now, attempts=0)
        db.session.add(run)
    if ran:
        run.attempts += 1
    run.output = output
    run.error = ""
    if done:
        run.status = "done"
        run.finished_at = utcnow()
        enrolment.step_index += 1
        enrolment.attempts = 0
        enrolment.last_error = ""
    else:
        run.status = "waiting"
        poll = current_app.config.get("WORKFLOW_POLL_SECONDS", DEFAULT_POLL_SECONDS)
        enrolment.run_at = now + timedelta(seconds=poll)
        enrolment.locked_until = None
        enrolment.locked_by = None
    db.session.flush()


def describe_error(exc: Exception) -> str:
    """A reason an admin can read: the message of a step's own error, else the exception's type and text."""
    if isinstance(exc, StepError | ValueError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _record_failure(enrolment_id: int, worker: str, step: dict, exc: Exception) -> None:
    """Count a failed attempt (the step's side effects are already rolled back): retry later, or fail."""
    now = utcnow()
    if not _hold(enrolment_id, worker, now):
        db.session.rollback()
        return
    enrolment = db.session.get(Enrolment, enrolment_id, populate_existing=True)
    reason = describe_error(exc)[:2000]
    permanent = isinstance(exc, StepError) and exc.permanent
    delays = current_app.config.get("WORKFLOW_RETRY_DELAYS", DEFAULT_RETRY_DELAYS)
    run = _step_run(enrolment_id, step["id"])
    if run is None:
        run = StepRun(
            enrolment_id=enrolment_id,
            step_id=step["id"],
            step_type=step.get("type", ""),
            status="retrying",
            started_at=now,
            attempts=0,
        )
        db.session.add(run)
    waiting = run.status == "waiting"  # its side effects are committed: retry the poll, never the run
    if not waiting:
        run.attempts += 1
    run.error = reason
    enrolment.attempts += 1
    enrolment.last_error = reason
    if permanent or enrolment.attempts > len(delays):
        run.status = "failed"
        run.finished_at = now
        enrolment.status = "failed"
        enrolment.finished_at = now
        enrolment.run_at = None
        logger.warning("enrolment failed enrolment_id=%s step=%s error=%s", enrolment_id, step["id"], reason)
    else:
        if not waiting:
            run.status = "retrying"
        delay = delays[enrolment.attempts - 1]
        enrolment.run_at = now + timedelta(seconds=delay)
        logger.info("step retry enrolment_id=%s step=%s in=%ss error=%s", enrolment_id, step["id"], delay, reason)
    enrolment.locked_until = None
    enrolment.locked_by = None
    db.session.commit()
    if enrolment.status == "failed":
        audit("enrolment.fail", enrolment_id=enrolment_id, step_id=step["id"])


def _release(enrolment_id: int, worker: str) -> None:
    db.session.rollback()
    db.session.execute(
        update(Enrolment)
        .where(Enrolment.id == enrolment_id, Enrolment.locked_by == worker)
        .values(locked_until=None, locked_by=None),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()


def context(enrolment: Enrolment, step: dict, now: datetime) -> StepContext:
    """What a step sees: the contact, the outputs of the steps before it, the values for templates."""
    steps = enrolment.version.steps or []
    runs = {
        run.step_id: run
        for run in db.session.scalars(
            select(StepRun).where(StepRun.enrolment_id == enrolment.id, StepRun.status == "done")
        )
    }
    outputs: dict[str, dict] = {}
    calendar_id = (enrolment.event or {}).get("calendar_id")
    for earlier in steps[: enrolment.step_index]:
        run = runs.get(earlier["id"])
        if run is None:
            continue
        if earlier.get("key"):
            outputs[earlier["key"]] = dict(run.output or {})
        if run.output and run.output.get("calendar_id"):
            calendar_id = run.output["calendar_id"]
    calendar = db.session.get(Calendar, calendar_id) if calendar_id else None
    settings = enrolment.version.settings or {}
    values = {
        "contact": merge.contact_values(enrolment.contact),
        "calendar": merge.calendar_values(calendar),
        "steps": outputs,
        "workflow": {"name": enrolment.workflow.name, "sender_name": settings.get("sender_name", "")},
    }
    return StepContext(
        enrolment=enrolment,
        contact=enrolment.contact,
        workflow_name=enrolment.workflow.name,
        trigger_type=enrolment.version.trigger_type,
        step=step,
        outputs=outputs,
        event=dict(enrolment.event or {}),
        now=now,
        values=values,
    )
