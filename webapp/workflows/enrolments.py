"""Enrolments, without HTTP: a workflow's enrolments filtered by status and link state, a contact's
enrolments, one enrolment's step timeline, retrying a failed one, and enrolling contacts by hand (one
email, a selection, a tag) in a published workflow. Their pages are in enrolment_views.py."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import joinedload, selectinload

from webapp import paging
from webapp.audit import audit
from webapp.booking.models import OneTimeLink
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact, Tag, normalize_tag
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.text import counted
from webapp.workflows import actions, program, services
from webapp.workflows.models import Enrolment, StepRun, Workflow

STATUS_FILTERS = ("all", "active", "completed", "failed", "test")
LINK_FILTERS = ("any", "sent", "opened", "booked")
ENROLMENT_ORDER = paging.newest_first(Enrolment.started_at, Enrolment.id)
# The contact page pages two lists: its links (?after=) and its enrolments (?enrolments_after=).
CONTACT_PREFIX = "enrolments_"


def _link_of_run():
    """Links made by this enrolment's Generate One-Time Booking Link steps (the run's output holds the id)."""
    return (
        select(OneTimeLink.id)
        .join(StepRun, OneTimeLink.id == StepRun.output["link_id"].as_integer())
        .where(StepRun.enrolment_id == Enrolment.id, StepRun.step_type == "generate_link")
    )


def link_condition(state: str):
    """The WHERE clause of a link-state filter; the states exclude each other (booked beats opened beats sent)."""
    booked = exists(_link_of_run().where(OneTimeLink.used_at.is_not(None)))
    opened = exists(_link_of_run().where(OneTimeLink.opened_at.is_not(None)))
    emailed = exists(
        select(StepRun.id).where(
            StepRun.enrolment_id == Enrolment.id, StepRun.step_type == "send_email", StepRun.status == "done"
        )
    )
    if state == "booked":
        return booked
    if state == "opened":
        return and_(opened, ~booked)
    if state == "sent":
        return and_(exists(_link_of_run()), emailed, ~opened, ~booked)
    return None


def _status_condition(status: str):
    """The WHERE clause of a status filter ("test" is a flag, not a status), or None for "all"."""
    if status == "test":
        return Enrolment.is_test.is_(True)
    if status in ("active", "completed", "failed"):
        return Enrolment.status == status
    return None


def enrolment_query(workflow: Workflow, status: str = "all", link: str = "any"):
    """A workflow's enrolments filtered by status (or test) and by link state; paged in ENROLMENT_ORDER."""
    query = select(Enrolment).where(Enrolment.workflow_id == workflow.id)
    for condition in (_status_condition(status), link_condition(link)):
        if condition is not None:
            query = query.where(condition)
    return query


def enrolments_page(workflow: Workflow, status: str, link: str, args) -> paging.Page:
    """One page of a workflow's enrolments, newest first, with their contacts and versions loaded."""
    query = enrolment_query(workflow, status, link).options(
        joinedload(Enrolment.contact), selectinload(Enrolment.version)
    )
    return paging.from_args(query, ENROLMENT_ORDER, args, current_app.config["PAGE_SIZE"])


def status_counts(workflow: Workflow) -> dict[str, paging.Count]:
    """How many enrolments per status filter, for the segmented control: each counted up to a cap."""
    counts = {}
    for status in STATUS_FILTERS:
        query = select(Enrolment.id).where(Enrolment.workflow_id == workflow.id)
        if (condition := _status_condition(status)) is not None:
            query = query.where(condition)
        counts[status] = paging.count_upto(query)
    return counts


def enrollable_workflows() -> Sequence[Workflow]:
    """Published workflows, by name: any of them can take contacts enrolled by hand."""
    query = select(Workflow).where(Workflow.status == "published", Workflow.published_version_id.is_not(None))
    return db.session.scalars(query.order_by(Workflow.name, Workflow.id)).all()


def contact_enrolments(contact: Contact, args=None) -> paging.Page:
    """One page of the contact's enrolments, newest first (args: the request's ?enrolments_after=…)."""
    query = select(Enrolment).where(Enrolment.contact_id == contact.id).options(joinedload(Enrolment.workflow))
    per_page = current_app.config["PAGE_SIZE"]
    return paging.from_args(query, ENROLMENT_ORDER, args or {}, per_page, prefix=CONTACT_PREFIX)


@dataclass
class StepView:
    """One step of an enrolment's timeline: the step as published, its run (if any) and what the run made."""

    index: int
    step: Mapping
    label: str
    run: StepRun | None = None
    link: OneTimeLink | None = None
    message: OutboxMessage | None = None
    number: str = ""  # as the editor numbers it: "3", "3.yes.1" (program.number)
    depth: int = 0  # 0 for a top-level step, 1 inside an if/else branch, …
    branch: str = ""  # "yes" or "no" inside a branch
    passed: bool = False  # the enrolment went past (or ended before) this step without running it

    @property
    def state(self) -> str:
        """done, waiting, retrying, failed, skipped (a branch not taken, a goal jump) or pending (not reached)."""
        if self.run:
            return self.run.status
        return "skipped" if self.passed else "pending"


@dataclass
class EnrolmentView:
    """An enrolment with its steps and the state of the link it sent."""

    enrolment: Enrolment
    steps: list[StepView] = field(default_factory=list)

    @property
    def current(self) -> StepView | None:
        """The step the enrolment is at (None once every step is done)."""
        index = self.enrolment.step_index
        return next((step for step in self.steps if step.index >= index), None)

    @property
    def link_state(self) -> str:
        """booked, opened, sent, created, expired, revoked, or "" when no link was made."""
        made = [s.link for s in self.steps if s.link is not None]
        if not made:
            return ""
        link = made[-1]
        state = link.status
        if state == "used":
            return "booked"
        if state == "active":
            emailed = any(s.step.get("type") == "send_email" and s.state == "done" for s in self.steps)
            return "sent" if emailed else "created"
        return state


EVENT_NAMES = {
    "manual": "Manual enrolment",
    "webhook": "Inbound webhook",
    "contact_created": "Contact created",
    "tag_added": "Tag added",
    "booking_made": "Booking made",
    "booking_rescheduled": "Booking rescheduled",
    "booking_cancelled": "Booking cancelled",
    "booking_showed": "Booking: showed",
    "booking_no_show": "Booking: no-show",
    "link_opened": "One-time link opened",
    "link_expired": "One-time link expired unused",
    "test": "Test run",
}


def describe_event(event: dict) -> str:
    """What enrolled the contact, in words: "One-time link expired unused (link #12 on Intro call)"."""
    kind = event.get("type") or ""
    text = EVENT_NAMES.get(kind) or (kind.replace("_", " ").capitalize() or "Unknown")
    if event.get("tag"):
        text += f" “{event['tag']}”"
    ids = [f"{name} #{event[f'{name}_id']}" for name in ("link", "booking") if event.get(f"{name}_id")]
    details = ", ".join(ids)
    if event.get("calendar_id"):
        calendar = db.session.get(Calendar, event["calendar_id"])
        details += (" on " if details else "") + (calendar.name if calendar else "a deleted calendar")
    return f"{text} ({details})" if details else text


def step_label(step: Mapping) -> str:
    """The step type's name as the menu shows it."""
    module = actions.get(step.get("type", ""))
    return module.LABEL if module else step.get("type", "Unknown step")


def views_of(enrolments: list[Enrolment]) -> list[EnrolmentView]:
    """Timelines of many enrolments with three queries in all (runs, links, messages), not three each."""
    ids = [e.id for e in enrolments]
    runs: dict[tuple[int, str | None], StepRun] = {}
    if ids:
        for step_run in db.session.scalars(select(StepRun).where(StepRun.enrolment_id.in_(ids))):
            runs[(step_run.enrolment_id, step_run.step_id)] = step_run
    link_ids = {r.output.get("link_id") for r in runs.values() if r.output and r.output.get("link_id")}
    outbox_ids = {r.output.get("outbox_id") for r in runs.values() if r.output and r.output.get("outbox_id")}
    found_links: dict[int | None, OneTimeLink] = {
        link.id: link for link in db.session.scalars(select(OneTimeLink).where(OneTimeLink.id.in_(link_ids)))
    }
    messages: dict[int | None, OutboxMessage] = {
        m.id: m for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(outbox_ids)))
    }
    result = []
    for enrolment in enrolments:
        view = EnrolmentView(enrolment)
        steps = enrolment.version.steps or []
        paths = {step.get("id"): path for step, path in program.walk(steps)}
        for index, instruction in enumerate(program.flatten(steps)):
            step = instruction.step
            if step is None:
                continue  # the jump over an if/else's "no" branch
            run = runs.get((enrolment.id, step.get("id")))
            output = (run.output or {}) if run else {}
            path = paths.get(step.get("id")) or ((0, None),)
            view.steps.append(
                StepView(
                    index=index,
                    step=step,
                    label=step_label(step),
                    run=run,
                    link=found_links.get(output.get("link_id")),
                    message=messages.get(output.get("outbox_id")),
                    number=program.number(path),
                    depth=len(path) - 1,
                    branch=path[-2][1] if len(path) > 1 else "",
                    passed=enrolment.status != "active" or index < enrolment.step_index,
                )
            )
        result.append(view)
    return result


def retry(enrolment: Enrolment) -> bool:
    """Put a failed enrolment back in the queue, due now; False when it was not failed (any more). Commits.

    One conditional UPDATE decides, so two clicks retry once. Steps already done stay done: the engine
    skips a step whose run is "done", so no second link and no second email.
    """
    result = db.session.execute(
        update(Enrolment)
        .where(Enrolment.id == enrolment.id, Enrolment.status == "failed")
        .values(
            status="active",
            run_at=utcnow(),
            attempts=0,
            last_error="",
            finished_at=None,
            locked_until=None,
            locked_by=None,
        ),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # DML gives a CursorResult
        db.session.rollback()
        return False
    db.session.execute(
        update(StepRun)
        .where(StepRun.enrolment_id == enrolment.id, StepRun.status == "failed")
        .values(status="retrying", finished_at=None),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    db.session.expire(enrolment)
    audit("enrolment.retry", enrolment_id=enrolment.id, workflow_id=enrolment.workflow_id)
    return True


@dataclass
class EnrolReport:
    """What a manual enrolment did: how many were enrolled, and who was skipped and why."""

    enrolled: list[Contact] = field(default_factory=list)
    skipped: list[tuple[str, list[str]]] = field(default_factory=list)  # (reason, [names]) or (reason, [])

    @property
    def count(self) -> int:
        return len(self.enrolled)


def manual_enrol(workflow: Workflow, email: str = "", contact_ids=(), tag: str = "") -> EnrolReport:
    """Enrol one contact by email, a selection of contact ids and/or everyone with a tag; commits."""
    report = EnrolReport()
    chosen: list[Contact] = []
    if email:
        contact = contacts.find_by_email(email)
        if contact is None:
            report.skipped.append((f"No contact has the email {email.strip()}.", []))
        else:
            chosen.append(contact)
    if contact_ids:
        wanted = set(contact_ids)
        found = list(db.session.scalars(select(Contact).where(Contact.id.in_(wanted))))
        chosen += found
        if missing := len(wanted) - len(found):
            gone = "no longer exists" if missing == 1 else "no longer exist"
            report.skipped.append((f"{counted(missing, 'selected contact')} {gone}.", []))
    if tag := normalize_tag(tag):
        tagged = list(db.session.scalars(select(Contact).where(Contact.tags.any(Tag.name == tag)).order_by(Contact.id)))
        if not tagged:
            report.skipped.append((f"No contact has the tag “{tag}”.", []))
        chosen += tagged
    unique = list({contact.id: contact for contact in chosen}.values())
    if not unique:
        return report
    if workflow.status != "published" or workflow.published_version_id is None:
        reason = (
            "the workflow is paused: resume it first"
            if workflow.status == "paused"
            else "the workflow is not published yet: publish it first"
        )
        report.skipped.append((f"Not enrolled, {reason}.", [c.name for c in unique]))
        return report
    enrolled = services.enrol_manually(workflow, unique)
    report.enrolled = [e.contact for e in enrolled]
    new_ids = {c.id for c in report.enrolled}
    if already := [c.name for c in unique if c.id not in new_ids]:
        report.skipped.append(("Already enrolled (this workflow does not let contacts in twice).", already))
    return report
