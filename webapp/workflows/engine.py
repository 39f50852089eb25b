"""The engine: the worker's "enrolments" task source claims due enrolments and runs their steps.

A step's side effects (a link, an outbox row), its StepRun "done" record and the enrolment's advance
are ONE transaction, opened by a conditional UPDATE of the enrolment that holds only while this
worker's claim does. A crash anywhere in a step rolls all of it back, and the retry does it once.
Claims work as in the outbox: FOR UPDATE SKIP LOCKED on PostgreSQL, conditional UPDATEs on SQLite.
What an enrolment does next at its step (run it, expedite, poll, advance, finish) is decided in one
place, next_move(), for a step run alone (run_step) and for a batch (_batch_round) alike.
"""

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum

from flask import current_app
from sqlalchemy import or_, select, update

from webapp import claims, logs, metrics, tokens
from webapp.audit import audit
from webapp.booking.models import OneTimeLink
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.mail import sender as mail_sender
from webapp.mail.outbox import worker_id
from webapp.worker import stopping
from webapp.workflows import actions, merge, program
from webapp.workflows.actions import StepContext, StepError, StepStop, StepType
from webapp.workflows.models import Enrolment, StepRun, Workflow

logger = logging.getLogger("oneslot.workflows")

# Seconds to wait after the 1st, 2nd, … failed attempt of a step; after the last one the enrolment fails.
DEFAULT_RETRY_DELAYS = (60, 5 * 60, 30 * 60, 2 * 60 * 60)
# How often a step that waits (an email in the outbox) looks again.
DEFAULT_POLL_SECONDS = 5  # how soon a Send Email step looks again at its queued message
# A guard against a workflow that never ends within one claim.
MAX_STEPS_PER_CLAIM = 100


def _due(now: datetime):
    return (
        Enrolment.status == "active",
        Enrolment.run_at <= now,
        or_(Enrolment.locked_until.is_(None), Enrolment.locked_until < now),
        # A paused workflow's enrolments wait where they are (an admin's test run goes on).
        or_(
            Enrolment.is_test.is_(True),
            Enrolment.workflow_id.in_(select(Workflow.id).where(Workflow.status != "paused")),
        ),
    )


# What waits to run, by the same `due` (/readyz and /metrics): the index (status, run_at) answers it.
BACKLOG = claims.Backlog(_due, Enrolment.run_at)


# --- claiming ------------------------------------------------------------------------------------


def claim(limit: int, worker: str, now: datetime | None = None) -> list[int]:
    """Take up to `limit` due enrolments for `worker` and commit the claim; returns their ids (see webapp/claims.py)."""
    now = now or utcnow()
    lease = {"locked_until": claims.lease_until(now), "locked_by": worker}
    return claims.claim(Enrolment, _due(now), (Enrolment.run_at, Enrolment.id), limit, lease)


def take(ids: Iterable[int], worker: str, now: datetime | None = None) -> list[int]:
    """Claim those of `ids` still due and unclaimed; commits, returns the winners."""
    now = now or utcnow()
    return claims.take(Enrolment, ids, _due(now), {"locked_until": claims.lease_until(now), "locked_by": worker})


def run_due(limit: int = 10) -> int:
    """The worker's task source: claim up to `limit` due enrolments and run each as far as it goes.

    They run together (run_batch), and one by one (run_enrolment) from where a batch cannot take them.
    """
    worker = worker_id()
    ids = claim(limit, worker)
    logs.done_ids(ids)  # the worker's line for this batch names them
    with mail_sender.connection():  # the batch's Send Email steps share one SMTP connection
        alone = run_batch(ids, worker)
        for position, enrolment_id in enumerate(alone):
            if stopping():  # the worker stops: the rest go back, free for another worker at once
                _release_all(alone[position:], worker)
                break
            run_enrolment(enrolment_id, worker)
    return len(ids)


# --- deciding ------------------------------------------------------------------------------------


class Outcome(StrEnum):
    """Where a step (run_step) or a claim (run_enrolment) left the enrolment."""

    ADVANCED = "advanced"  # on to its next step
    WAITING = "waiting"  # its step waits (run_at says until when)
    FINISHED = "finished"  # completed, its claim let go
    FAILED = "failed"  # the step failed: retried later, or the enrolment failed
    LOST = "lost"  # another worker holds it now, or it is no longer active


class Move(Enum):
    """What an enrolment does next at its current step (next_move)."""

    FINISH = "finish"  # past the last step: it completes
    ADVANCE = "advance"  # the step was recorded done without the advance: go past it, never run it twice
    ALONE = "alone"  # in a batch: a step that runs in a transaction of its own (EXTERNAL, or unknown)
    UNKNOWN = "unknown"  # a step type that does not exist (any more): the step fails
    RUN = "run"  # run the step, then poll it
    EXPEDITE = "expedite"  # run the step, then do at once what it waits for (expedite) before polling
    POLL = "poll"  # the step waits: poll it again


@dataclass
class Plan:
    """An enrolment's next move, and the step, step type and run it works on. Every move but FINISH has an
    instruction (a step, never a jump); RUN, EXPEDITE and POLL have a step type; ADVANCE and POLL have a
    run (the others may, from an earlier attempt). The properties give them to the moves that have them."""

    move: Move
    instruction: program.Instruction | None = None
    step_type: StepType | None = None
    run: StepRun | None = None

    @property
    def current(self) -> program.Instruction:
        """The instruction the enrolment is at."""
        assert self.instruction is not None, f"{self.move} is at no step"
        return self.instruction

    @property
    def step(self) -> Mapping:
        """The step the enrolment is at."""
        step = self.current.step
        assert step is not None, "next_move never stops at a jump"
        return step

    @property
    def kind(self) -> StepType:
        """The step's type."""
        assert self.step_type is not None, f"{self.move} has no step type"
        return self.step_type

    @property
    def saved_run(self) -> StepRun:
        """The step's run as recorded so far."""
        assert self.run is not None, f"{self.move} has no run"
        return self.run


def next_move(
    enrolment: Enrolment, code: list[program.Instruction], runs: dict, *, batch: bool, expedite: bool = True
) -> Plan:
    """The enrolment's next move at its current step, for one step's transaction (run_step) and for a
    batch's rounds alike. batch: a step that must run alone is ALONE; expedite: whether the worker can
    expedite the step's wait (it holds a claim that goes on after the step)."""
    _skip_jumps(enrolment, code)
    if enrolment.step_index >= len(code):
        return Plan(Move.FINISH)
    instruction = code[enrolment.step_index]
    step = instruction.step
    assert step is not None, "_skip_jumps stops at a step"
    run = runs.get(step["id"])
    if run is not None and run.status == "done":
        return Plan(Move.ADVANCE, instruction, run=run)
    step_type = actions.get(step.get("type", ""))
    if batch and (step_type is None or step_type.EXTERNAL):
        return Plan(Move.ALONE, instruction, step_type, run)
    if step_type is None:
        return Plan(Move.UNKNOWN, instruction, None, run)
    if run is not None and run.status == "waiting":
        return Plan(Move.POLL, instruction, step_type, run)
    if expedite and step_type.EXPEDITES:
        return Plan(Move.EXPEDITE, instruction, step_type, run)
    return Plan(Move.RUN, instruction, step_type, run)


# --- running -------------------------------------------------------------------------------------


class _ClaimState:
    """What one claim of an enrolment remembers between its steps."""

    def __init__(self):
        self.expedited: set[str] = set()  # steps whose wait was expedited once already
        self.kept: list = []  # strong references: the session's identity map holds objects weakly


def run_enrolment(enrolment_id: int, worker: str) -> Outcome:
    """Run the claimed enrolment's steps until it ends, waits, fails or the claim is lost; returns which."""
    outcome = Outcome.ADVANCED
    claim_state = _ClaimState()
    # Between the steps of one claim the contact, workflow and version stay loaded: the enrolment and
    # its step runs, which decide what runs, are read fresh (populate_existing) in every transaction.
    with claims.kept_loaded():
        for _ in range(MAX_STEPS_PER_CLAIM):
            outcome = run_step(enrolment_id, worker, claim_state)
            if outcome is not Outcome.ADVANCED or stopping():  # a stop waits for the current step only
                break
    if outcome is not Outcome.FINISHED:  # a finished enrolment let go of its claim in its last transaction
        _release_all([enrolment_id], worker)
    return outcome


def _renew(ids: list[int], worker: str, now: datetime):
    """UPDATE … RETURNING that renews our claim on those of `ids` still active and ours (the rest are lost)."""
    return (
        update(Enrolment)
        .where(
            Enrolment.id.in_(ids),
            claims.recheck(
                Enrolment.status == "active",
                Enrolment.locked_by == worker,
                Enrolment.locked_until > now,
            ),
        )
        .values(locked_until=claims.lease_until(now))
        .returning(Enrolment)
    )


def _hold_all(ids: list[int], worker: str, now: datetime) -> list[Enrolment]:
    """The first statement of a step's (or a batch pass's) transaction: renew our claims and read the
    enrolments as they are now; those whose claim we lost are left out."""
    options = {"synchronize_session": False, "populate_existing": True}
    return list(db.session.scalars(_renew(ids, worker, now), execution_options=options))


def _hold_and_load(enrolment_id: int, worker: str, now: datetime) -> Enrolment | None:
    """_hold_all() for one enrolment; None if the claim is lost."""
    held = _hold_all([enrolment_id], worker, now)
    return held[0] if held else None


def _hold(enrolment_id: int, worker: str, now: datetime) -> bool:
    """Renew our claim, or learn that we lost it."""
    return _hold_and_load(enrolment_id, worker, now) is not None


def _runs(enrolment_id: int) -> dict[str, StepRun]:
    """The enrolment's step runs by step id, read fresh."""
    query = select(StepRun).where(StepRun.enrolment_id == enrolment_id).execution_options(populate_existing=True)
    return {run.step_id: run for run in db.session.scalars(query)}


def _skip_jumps(enrolment: Enrolment, code: list[program.Instruction]) -> None:
    while enrolment.step_index < len(code) and code[enrolment.step_index].step is None:
        jump_to = code[enrolment.step_index].jump_to
        assert jump_to is not None, "an instruction without a step is a jump"
        enrolment.step_index = jump_to


def _finish_if_done(enrolment: Enrolment, code: list[program.Instruction], now: datetime) -> bool:
    """Past the last step: completed, in the current transaction, its claim let go. True if so."""
    _skip_jumps(enrolment, code)
    if enrolment.step_index < len(code):
        return False
    enrolment.status = "completed"
    enrolment.finished_at = now
    enrolment.run_at = None
    enrolment.locked_until = None
    enrolment.locked_by = None
    logger.debug("enrolment completed enrolment_id=%s", enrolment.id)
    return True


def run_step(enrolment_id: int, worker: str, claim_state: _ClaimState | None = None) -> Outcome:
    """Run the enrolment's current step in one transaction: advanced, waiting, finished, failed or lost."""
    db.session.commit()  # whatever the session read before is closed: the transaction below sees now
    claims.relaxed_commit()
    now = utcnow()
    enrolment = _hold_and_load(enrolment_id, worker, now)
    if enrolment is None:
        db.session.rollback()
        return Outcome.LOST
    code = program.flatten(enrolment.version.steps or [])
    if _finish_if_done(enrolment, code, now):
        db.session.commit()
        return Outcome.FINISHED
    runs = _runs(enrolment_id)
    plan = next_move(enrolment, code, runs, batch=False, expedite=claim_state is not None)
    step = plan.step
    if plan.move is Move.ADVANCE:
        _advance(enrolment, plan.current, plan.saved_run.output or {})
        finished = _finish_if_done(enrolment, code, now)
        db.session.commit()
        return Outcome.FINISHED if finished else Outcome.ADVANCED
    try:
        if plan.move is Move.UNKNOWN:
            raise StepError(f"Unknown step type “{step.get('type')}”.", permanent=True)
        ctx = context(enrolment, step, now, runs)
        if claim_state is not None:
            claim_state.kept = [enrolment.version, enrolment.workflow, enrolment.contact, ctx.calendar]
        polled = plan.move is Move.POLL
        if polled:
            output = dict(plan.saved_run.output)
        else:
            with metrics.step_timer(plan.kind.TYPE):
                output = _ran(plan.kind.run(ctx))
        # What an expedited step waits on was just made: expedite below, then look.
        result = False if plan.move is Move.EXPEDITE else plan.kind.poll(ctx, output)
        _record(enrolment, plan.current, plan.run, output, result, ran=not polled, now=now)
        finished = result is True and _finish_if_done(enrolment, code, now)
        db.session.commit()
    except StepStop as stop:
        db.session.rollback()
        return _record_stop(enrolment_id, worker, step, str(stop))
    except Exception as exc:
        db.session.rollback()
        _record_failure(enrolment_id, worker, step, exc)
        return Outcome.FAILED
    if result is True:
        logger.debug("step done enrolment_id=%s step=%s type=%s", enrolment_id, step["id"], step["type"])
        return Outcome.FINISHED if finished else Outcome.ADVANCED
    expeditable = result is False and plan.kind.EXPEDITES  # a datetime: nothing to do before then
    if claim_state is not None and step["id"] not in claim_state.expedited and expeditable:
        claim_state.expedited.add(step["id"])  # once per claim: a message the server refused waits for its retry
        if plan.kind.expedite([dict(output)])[0]:
            return Outcome.ADVANCED  # look again at once (poll reads the message's new status)
    return Outcome.WAITING


# --- running a batch -------------------------------------------------------------------------------
#
# The steps of many claimed enrolments run in ONE transaction, each as far as it goes (until it waits
# or ends): each step's side effects, its StepRun and the advance still commit together, only with
# other steps'. If any step fails, the whole batch rolls back and each enrolment runs alone
# (run_enrolment), where the failure is recorded and retried; nothing the batch did is left behind.
# A step that reaches another system (EXTERNAL: a webhook) never runs in a batch, since a rollback
# cannot take back its request. Emails the batch queued are then sent at once (expedite) and a
# second pass records them and goes on.

MAX_BATCH_PASSES = 5


def run_batch(ids: list[int], worker: str) -> list[int]:
    """Run the claimed enrolments together; returns those to run one by one (still claimed)."""
    if not ids:
        return []
    alone: list[int] = []
    with claims.kept_loaded():
        todo, hints = list(ids), dict[int, dict]()
        for _ in range(MAX_BATCH_PASSES):
            result = _batch_pass(todo, worker, hints)
            if result is None:  # something failed: every enrolment of this pass runs alone
                alone.extend(todo)
                break
            alone.extend(result.alone)
            hints = _expedite(result.expedite)
            todo = list(hints)
            if not todo or stopping():  # a stopping worker lets the rest go: their next look is due soon
                break
    _release_all([i for i in ids if i not in alone], worker)
    return alone


class _PassResult:
    def __init__(self):
        self.alone: list[int] = []  # reached a step that runs alone (or failed): run_enrolment goes on
        self.expedite: list[tuple[int, StepType, dict]] = []  # (enrolment id, step type, output) waiting on mail


def _batch_pass(ids: list[int], worker: str, hints: dict[int, dict]) -> _PassResult | None:
    """One transaction: every enrolment of `ids` still ours runs as far as it goes; None (rolled back) on a failure.

    It goes in rounds: each round runs the current step of every enrolment still going, then ONE flush
    gives the rows they added (links, outbox messages) their ids, and their records are written."""
    db.session.commit()
    claims.relaxed_commit()
    now = utcnow()
    held = _hold_all(ids, worker, now)
    result = _PassResult()
    if not held:
        db.session.commit()
        return result
    # What the steps read, in a few queries for the whole batch (kept referenced: the identity map is weak).
    kept = list(db.session.scalars(select(Contact).where(Contact.id.in_({e.contact_id for e in held}))))
    runs_of: dict[int, dict[str, StepRun]] = {e.id: {} for e in held}
    query = select(StepRun).where(StepRun.enrolment_id.in_(runs_of)).execution_options(populate_existing=True)
    for run in db.session.scalars(query):
        runs_of[run.enrolment_id][run.step_id] = run
    programs: dict[int, list[program.Instruction]] = {}
    for enrolment in held:
        if enrolment.version_id not in programs:
            programs[enrolment.version_id] = program.flatten(enrolment.version.steps or [])
        kept.append(enrolment.version)
    going = [_Going(e, programs[e.version_id], runs_of[e.id], hints.get(e.id)) for e in held]
    try:
        while going:
            going = _batch_round(going, now, result, kept)
        db.session.commit()
    except Exception:
        db.session.rollback()
        logger.info("batch of %d rolled back: its enrolments run one by one", len(held), exc_info=True)
        return None
    return result


class _Going:
    """An enrolment on its way through a batch pass."""

    __slots__ = ("enrolment", "code", "runs", "hint", "steps")

    def __init__(self, enrolment: Enrolment, code: list[program.Instruction], runs: dict, hint: dict | None):
        self.enrolment, self.code, self.runs, self.hint, self.steps = enrolment, code, runs, hint, 0


@dataclass
class _Started:
    """A step a batch round ran (or polls): its enrolment, its move, what it sees and its output so far."""

    item: _Going
    plan: Plan
    ctx: StepContext
    output: dict


def _batch_round(going: list[_Going], now: datetime, result: _PassResult, kept: list) -> list[_Going]:
    """Run the current step of each enrolment in `going`; returns those that go on to a next round.

    One enrolment per contact per round: a step may look at what the contact's earlier steps added
    (an active link to reuse), which is only visible once flushed."""
    started, later, contacts = [], [], set()
    for item in going:
        enrolment = item.enrolment
        if enrolment.contact_id in contacts:
            later.append(item)
            continue
        plan = _next_step(item, now, result)
        if plan is None:
            continue
        contacts.add(enrolment.contact_id)
        ctx = context(enrolment, plan.step, now, item.runs)
        kept.append(ctx.calendar)
        if plan.move is Move.POLL:
            output = {**plan.saved_run.output, **(item.hint or {})}
        else:
            with metrics.step_timer(plan.kind.TYPE):
                output = plan.kind.run(ctx)
        item.hint = None
        started.append(_Started(item, plan, ctx, output))
    db.session.flush()  # the round's new rows get their ids
    for one in started:
        item, plan, step = one.item, one.plan, one.plan.step
        output = actions.resolve(one.output)
        # What an expedited step waits on was just made: expedited after the commit.
        outcome = False if plan.move is Move.EXPEDITE else plan.kind.poll(one.ctx, output)
        run = _record(
            item.enrolment,
            plan.current,
            plan.run,
            output,
            outcome,
            ran=plan.move is not Move.POLL,
            now=now,
            flush=False,
        )
        item.runs[step["id"]] = run
        item.steps += 1
        if outcome is not True:
            # A new email is sent at once; one polled and due again (its retry) is tried at once as well.
            if plan.move is Move.EXPEDITE or (outcome is False and plan.kind.EXPEDITES):
                result.expedite.append((item.enrolment.id, plan.kind, output))
            continue
        logger.debug("step done enrolment_id=%s step=%s type=%s", item.enrolment.id, step["id"], step["type"])
        if item.steps < MAX_STEPS_PER_CLAIM:
            later.append(item)
    return later


def _next_step(item: _Going, now: datetime, result: _PassResult) -> Plan | None:
    """The enrolment's next move in the batch (RUN, EXPEDITE or POLL), past the steps already done; None
    when it is done with the pass (finished, or a step that runs alone: result.alone)."""
    enrolment, code = item.enrolment, item.code
    while True:
        plan = next_move(enrolment, code, item.runs, batch=True)
        if plan.move is Move.ADVANCE:
            _advance(enrolment, plan.current, plan.saved_run.output or {})
            continue
        if plan.move is Move.FINISH:
            _finish_if_done(enrolment, code, now)
            return None
        if plan.move is Move.ALONE:
            result.alone.append(enrolment.id)
            return None
        return plan


def _expedite(waiting: list[tuple[int, StepType, dict]]) -> dict[int, dict]:
    """Do now what the waiting steps wait for (type by type); returns {enrolment id: hint for its
    step's output} for the enrolments to look at again."""
    by_type: dict[StepType, list[tuple[int, dict]]] = {}
    for enrolment_id, step_type, output in waiting:
        by_type.setdefault(step_type, []).append((enrolment_id, output))
    again = {}
    for step_type, items in by_type.items():
        hints = step_type.expedite([output for _id, output in items])
        again.update({enrolment_id: hint for (enrolment_id, _output), hint in zip(items, hints) if hint})
    return again


def _release_all(ids: list[int], worker: str) -> None:
    """Let go of the claims we still hold on `ids` (finished enrolments already did)."""
    db.session.rollback()
    if ids:
        db.session.execute(
            update(Enrolment)
            .where(Enrolment.id.in_(ids), Enrolment.locked_by == worker)
            .values(locked_until=None, locked_by=None),
            execution_options={"synchronize_session": False},
        )
    db.session.commit()


def _ran(output: dict) -> dict:
    """A step's output once its rows are flushed (see actions.AfterFlush)."""
    db.session.flush()
    return actions.resolve(output)


def _advance(enrolment: Enrolment, instruction: program.Instruction, output: dict) -> None:
    """To the next step: an if/else that chose "no" goes to its "no" branch."""
    if instruction.else_at is not None and output.get("branch") == "no":
        enrolment.step_index = instruction.else_at
    else:
        enrolment.step_index += 1
    enrolment.attempts = 0
    enrolment.last_error = ""


def _record(enrolment, instruction, run, output, result, *, ran: bool, now: datetime, flush: bool = True) -> StepRun:
    """The second half of a step: its record and the enrolment's advance (or wait), in the step's transaction.

    result is poll()'s answer: True (done), False (look again in WORKFLOW_POLL_SECONDS) or when to look again.
    A waiting enrolment keeps its claim until run_enrolment lets it go, so an expedited step can look again.
    """
    step = instruction.step
    if run is None:
        run = StepRun(enrolment_id=enrolment.id, step_id=step["id"], step_type=step["type"], started_at=now, attempts=0)
        db.session.add(run)
    if ran:
        run.attempts += 1
    run.output = output
    run.error = ""
    if result is True:
        run.status = "done"
        run.finished_at = utcnow()
        _advance(enrolment, instruction, output)
    else:
        run.status = "waiting"
        if isinstance(result, datetime):
            enrolment.run_at = max(result, now)
        else:
            poll = current_app.config.get("WORKFLOW_POLL_SECONDS", DEFAULT_POLL_SECONDS)
            enrolment.run_at = now + timedelta(seconds=poll)
    if flush:  # a batch leaves it to the next query or the commit: one flush for many rows
        db.session.flush()
    return run


def _record_stop(enrolment_id: int, worker: str, step: Mapping, reason: str) -> Outcome:
    """A step that ends the enrolment (StepStop): the step done with the reason, the enrolment completed."""
    now = utcnow()
    if not _hold(enrolment_id, worker, now):
        db.session.rollback()
        return Outcome.LOST
    enrolment = db.session.get_one(Enrolment, enrolment_id, populate_existing=True)  # held: it exists
    run = _runs(enrolment_id).get(step["id"])
    if run is None:
        run = StepRun(enrolment_id=enrolment_id, step_id=step["id"], step_type=step.get("type", ""), started_at=now)
        run.attempts = 1
        db.session.add(run)
    run.status = "done"
    run.finished_at = now
    run.output = {**(run.output or {}), "stopped": reason}
    run.error = ""
    enrolment.status = "completed"
    enrolment.finished_at = now
    enrolment.run_at = None
    enrolment.locked_until = None
    enrolment.locked_by = None
    enrolment.last_error = ""
    db.session.commit()
    logger.info("enrolment stopped enrolment_id=%s step=%s reason=%s", enrolment_id, step["id"], reason)
    return Outcome.FINISHED


def describe_error(exc: Exception) -> str:
    """A reason an admin can read: the message of a step's own error, else the exception's type and text."""
    if isinstance(exc, StepError | ValueError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _record_failure(enrolment_id: int, worker: str, step: Mapping, exc: Exception) -> None:
    """Count a failed attempt (the step's side effects are already rolled back): retry later, or fail."""
    now = utcnow()
    if not _hold(enrolment_id, worker, now):
        db.session.rollback()
        return
    enrolment = db.session.get_one(Enrolment, enrolment_id, populate_existing=True)
    reason = describe_error(exc)[:2000]
    permanent = isinstance(exc, StepError) and exc.permanent
    delays = current_app.config.get("WORKFLOW_RETRY_DELAYS", DEFAULT_RETRY_DELAYS)
    run = _runs(enrolment_id).get(step["id"])
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
        logger.warning(
            "enrolment failed enrolment_id=%s step=%s error=%s",
            enrolment_id,
            step["id"],
            reason,
            extra={"source": "enrolments", "job_id": enrolment_id},
        )
    else:
        if not waiting:
            run.status = "retrying"
        delay = delays[enrolment.attempts - 1]
        enrolment.run_at = now + timedelta(seconds=delay)
        logger.info(
            "step retry enrolment_id=%s step=%s in=%ss error=%s",
            enrolment_id,
            step["id"],
            delay,
            reason,
            extra={"source": "enrolments", "job_id": enrolment_id},
        )
    enrolment.locked_until = None
    enrolment.locked_by = None
    db.session.commit()
    if enrolment.status == "failed":
        audit("enrolment.fail", enrolment_id=enrolment_id, step_id=step["id"])


def _template_output(step: Mapping, output: dict) -> dict:
    """A step's output as later steps' templates see it: its secret links as tokens.LinkRef, never text
    (so a value a contact typed can never stand for one)."""
    values = dict(output)
    step_type = actions.get(step.get("type", ""))
    for field, (purpose, id_field) in (step_type.SECRET_LINKS if step_type else {}).items():
        values[field] = tokens.LinkRef(purpose, int(output[id_field])) if output.get(id_field) else ""
    return values


def context(enrolment: Enrolment, step: Mapping, now: datetime, runs: dict | None = None) -> StepContext:
    """What a step sees: the contact, the outputs of the steps that ran before it, the values for templates."""
    if runs is None:
        runs = _runs(enrolment.id)
    outputs: dict[str, dict] = {}
    calendar_id = (enrolment.event or {}).get("calendar_id")
    done = [run for run in runs.values() if run.status == "done" and run.step_id != step.get("id")]
    steps_by_id = {earlier.get("id"): earlier for earlier, _path in program.walk(enrolment.version.steps or [])}
    for run in sorted(done, key=lambda run: (run.finished_at or now, run.id or 0)):
        earlier = steps_by_id.get(run.step_id) or {}
        if earlier.get("key"):
            outputs[earlier["key"]] = _template_output(earlier, run.output or {})
        if run.output and run.output.get("calendar_id"):
            calendar_id = run.output["calendar_id"]
    calendar = db.session.get(Calendar, calendar_id) if calendar_id else None
    settings = enrolment.version.settings or {}
    workflow_name = enrolment.workflow.name
    values = {
        "contact": merge.contact_values(enrolment.contact),
        "calendar": merge.calendar_values(calendar),
        "booking": merge.LazyValues(lambda: merge.booking_values(merge.booking_of(enrolment, outputs))),
        "steps": outputs,
        "workflow": {"name": workflow_name, "sender_name": settings.get("sender_name", "")},
    }
    return StepContext(
        enrolment=enrolment,
        contact=enrolment.contact,
        workflow_name=workflow_name,
        trigger_type=enrolment.version.trigger_type,
        step=step,
        outputs=outputs,
        event=dict(enrolment.event or {}),
        now=now,
        values=values,
        calendar=calendar,
        runs={run.step_id: run for run in done},
    )


# --- bookings reaching back into enrolments --------------------------------------------------------


def on_link_event(kind: str, link_id: int | None) -> None:
    """A booking made, rescheduled or cancelled with a workflow's link, in the booking's transaction.

    The enrolment that made the link looks again now (a reminder follows the booking's new time, or
    stops when it is cancelled), and a booking jumps it to a later Goal step on that link, if any.
    """
    link = db.session.get(OneTimeLink, link_id) if link_id else None
    # The link's own column, never its metadata (which an API client writes).
    if link is None or link.enrolment_id is None:
        return
    enrolment = db.session.get(Enrolment, link.enrolment_id)
    if enrolment is None or enrolment.status != "active":
        return
    now = utcnow()
    values: dict = {"run_at": now}
    goal_at = _goal_for(enrolment, link.step_id or "") if kind == "made" else None
    guard = [Enrolment.id == enrolment.id, Enrolment.status == "active"]
    if goal_at is not None:
        values["step_index"] = goal_at
        guard.append(Enrolment.step_index < goal_at)
    moved = db.session.execute(  # type: ignore[attr-defined]  # DML gives a CursorResult
        update(Enrolment).where(*guard).values(**values), execution_options={"synchronize_session": False}
    ).rowcount
    if moved and goal_at is not None:
        # What the enrolment was waiting on is over: its waiting step is closed as skipped.
        for run in db.session.scalars(
            select(StepRun).where(StepRun.enrolment_id == enrolment.id, StepRun.status == "waiting")
        ):
            run.status = "done"
            run.finished_at = now
            run.output = {**(run.output or {}), "skipped": "the goal was reached: the link was booked"}
        logger.info("goal reached enrolment_id=%s link_id=%s", enrolment.id, link.id)


def _goal_for(enrolment: Enrolment, link_step_id: str) -> int | None:
    """The program position of the first Goal on the link made by step `link_step_id`, after the current one."""
    steps = enrolment.version.steps or []
    maker = program.find(steps, link_step_id)
    key = (maker or {}).get("key")
    if not key:
        return None
    for index, instruction in enumerate(program.flatten(steps)):
        step = instruction.step
        if step is None or index <= enrolment.step_index or step.get("type") != "goal":
            continue
        if (step.get("config") or {}).get("link_step") == key:
            return index
    return None
