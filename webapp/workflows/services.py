"""Workflow rules: validate, publish (freeze a version), pause and resume, enrol contacts."""

import copy
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from types import SimpleNamespace

from sqlalchemy import event, exists, func, select
from sqlalchemy.orm import Session

from webapp.audit import actor, audit
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.contacts.models import Contact, Tag, normalize_tag
from webapp.extensions import db
from webapp.hosts.models import Host
from webapp.workflows import actions, program
from webapp.workflows.models import Enrolment, Workflow, WorkflowVersion, new_secret, secret_digest

TRIGGER_TYPES = {
    "contact_created": "Contact created",
    "tag_added": "Tag added",
    "webhook": "Inbound webhook",
    "booking_event": "Booking event",
    "link_opened": "One-time link opened",
    "link_expired": "One-time link expired unused",
    "manual": "Manual enrolment",
}
BOOKING_EVENTS = {
    "made": "Booking made",
    "rescheduled": "Booking rescheduled",
    "cancelled": "Booking cancelled",
    "showed": "Showed",
    "no_show": "No-show",
}
# Triggers for one calendar's events, or any calendar's (their event carries calendar_id).
CALENDAR_TRIGGERS = ("booking_event", "link_opened", "link_expired")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class WorkflowInvalid(ValueError):
    """A workflow that cannot be published; `errors` holds one message per problem, keyed by step id."""

    def __init__(self, errors: dict[str, dict[str, str]]):
        super().__init__("; ".join(m for fields in errors.values() for m in fields.values()))
        self.errors = errors


def new_step_id() -> str:
    """A short id that stays with a step while it is moved or edited."""
    return secrets.token_hex(4)


def new_step(step_type: str, key: str = "", earlier_steps=()) -> dict:
    """A step of a type with its default config, ready to go after `earlier_steps` in workflow.steps."""
    kind = actions.get(step_type)
    if kind is None:
        raise ValueError(f"unknown step type {step_type!r}")
    return {"id": new_step_id(), "type": step_type, "key": key, "config": kind.new_config(earlier_steps)}


def create_workflow(name: str, trigger_type: str = "", trigger_config: Mapping | None = None) -> Workflow:
    """Add a draft workflow and commit."""
    workflow = Workflow(
        name=name.strip() or "Untitled workflow",
        status="draft",
        trigger_type=trigger_type,
        trigger_config=dict(trigger_config or {}),
        steps=[],
    )
    db.session.add(workflow)
    db.session.commit()
    audit("workflow.create", workflow_id=workflow.id)
    return workflow


def validate_trigger(trigger_type: str, config: Mapping) -> dict[str, str]:
    """Problems with a trigger, keyed by field."""
    if trigger_type not in TRIGGER_TYPES:
        return {"trigger_type": "Choose what enrols contacts in this workflow."}
    errors = {}
    if trigger_type == "tag_added" and not normalize_tag(str(config.get("tag") or "")):
        errors["tag"] = "Choose the tag that enrols contacts."
    if trigger_type == "booking_event":
        events = config.get("events") or []
        if not events or not isinstance(events, list) or any(e not in BOOKING_EVENTS for e in events):
            errors["events"] = "Choose at least one booking event (made, rescheduled, cancelled, showed, no-show)."
        host_id = config.get("host_id")
        if host_id is not None and (
            not isinstance(host_id, int) or isinstance(host_id, bool) or db.session.get(Host, host_id) is None
        ):
            errors["host_id"] = "That team member no longer exists; choose another, or any host."
    if trigger_type in CALENDAR_TRIGGERS:
        calendar_id = config.get("calendar_id")
        if calendar_id is not None and db.session.get(Calendar, calendar_id) is None:
            errors["calendar_id"] = "That calendar no longer exists; choose another, or any calendar."
    return errors


def describe_trigger(trigger_type: str, config: Mapping, calendar_names: Mapping[int, str]) -> str:
    """The trigger in a few words for the list: "Booking event: made, cancelled · Intro call"."""
    text = TRIGGER_TYPES.get(trigger_type, "—")
    if trigger_type == "booking_event" and config.get("events"):
        text += ": " + ", ".join(BOOKING_EVENTS.get(e, e).removeprefix("Booking ").lower() for e in config["events"])
    if trigger_type in CALENDAR_TRIGGERS:
        calendar_id = config.get("calendar_id")
        text += " · " + (calendar_names.get(calendar_id, "a deleted calendar") if calendar_id else "any calendar")
    if trigger_type == "booking_event" and config.get("host_id"):
        text += " · one host's bookings"
    return text


def validate(workflow: Workflow | SimpleNamespace) -> dict[str, dict[str, str]]:
    """Every problem of the draft: {"workflow": {...}, "trigger": {...}, <step id>: {field: message}}."""
    errors: dict[str, dict[str, str]] = {}
    if not (workflow.name or "").strip():
        errors.setdefault("workflow", {})["name"] = "The workflow needs a name."
    if trigger_errors := validate_trigger(workflow.trigger_type, workflow.trigger_config or {}):
        errors["trigger"] = trigger_errors
    steps = list(workflow.steps or [])
    if not steps:
        errors.setdefault("workflow", {})["steps"] = "Add at least one step."
    seen_ids, seen_keys = set(), set()
    for number, (step, _path) in enumerate(program.walk(steps), 1):
        step_id = str(step.get("id") or f"#{number}")
        problems = {}
        kind = actions.get(step.get("type", ""))
        if step_id in seen_ids:
            problems["id"] = "Two steps share this id."
        seen_ids.add(step_id)
        key = step.get("key") or ""
        if kind is None:
            problems["type"] = f"Unknown step type “{step.get('type')}”."
        elif kind.OUTPUTS:
            if not KEY_RE.match(key):
                problems["key"] = (
                    "The key is lower-case letters, digits and _, starting with a letter (e.g. booking_link)."
                )
            elif key in seen_keys:
                problems["key"] = f"Another step already uses the key “{key}”."
        if key:
            seen_keys.add(key)
        if kind is not None:
            problems.update(
                kind.validate(
                    step.get("config") or {},
                    program.before(steps, step.get("id")) or [],
                    later_steps=[step, *program.after(steps, step.get("id"))],
                    trigger_type=workflow.trigger_type,
                )
            )
        if problems:
            errors[step_id] = problems
    return errors


def publish(workflow: Workflow) -> WorkflowVersion:
    """Freeze the draft as the next version and make it live; raises WorkflowInvalid. Commits."""
    if errors := validate(workflow):
        raise WorkflowInvalid(errors)
    number = (
        db.session.scalar(
            # Test runs of the draft have negative numbers (webapp/workflows/test_runs.py): never count them.
            select(func.max(WorkflowVersion.number)).where(
                WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.number > 0
            )
        )
        or 0
    ) + 1
    version = WorkflowVersion(
        workflow_id=workflow.id,
        number=number,
        trigger_type=workflow.trigger_type,
        trigger_config=dict(workflow.trigger_config or {}),
        steps=copy.deepcopy(list(workflow.steps)),
        settings=workflow.settings(),
        created_by=actor(),
    )
    db.session.add(version)
    db.session.flush()
    workflow.published_version_id = version.id
    workflow.status = "published"
    workflow.published_at = utcnow()
    db.session.commit()
    audit("workflow.publish", workflow_id=workflow.id, version=number)
    return version


def pause(workflow: Workflow) -> None:
    """Stop enrolling; contacts already in wait where they are until resume(). Commits."""
    if workflow.status != "published":
        raise ValueError("Only a published workflow can be paused.")
    workflow.status = "paused"
    db.session.commit()
    audit("workflow.pause", workflow_id=workflow.id)


def resume(workflow: Workflow) -> None:
    """Enrol again, and let waiting contacts continue. Commits."""
    if workflow.status != "paused":
        raise ValueError("Only a paused workflow can be resumed.")
    workflow.status = "published"
    db.session.commit()
    audit("workflow.resume", workflow_id=workflow.id)


def regenerate_secret(workflow: Workflow) -> str:
    """A new inbound webhook secret, returned to be shown once (only its digest is kept); the old URL
    stops working at once. Commits."""
    secret = new_secret()
    workflow.webhook_digest = secret_digest(secret)
    db.session.commit()
    audit("workflow.webhook_secret", workflow_id=workflow.id)
    return secret


def ensure_webhook_secret(workflow: Workflow) -> str | None:
    """For a workflow whose trigger is the inbound webhook and that has no URL yet: make one and return
    its secret (to show once). None when there is nothing to make. Commits."""
    if workflow.trigger_type != "webhook" or workflow.webhook_digest:
        return None
    return regenerate_secret(workflow)


def webhook_secret_matches(workflow: Workflow, secret: str) -> bool:
    """True when `secret` is the workflow's inbound webhook secret (compared in constant time)."""
    if not workflow.webhook_digest:
        return False
    return hmac.compare_digest(workflow.webhook_digest, secret_digest(secret))


def enrol(
    workflow: Workflow, contact: Contact, event: Mapping | None = None, is_test: bool = False
) -> Enrolment | None:
    """Add an enrolment of the contact in the live version, due now; None when the workflow is not
    published or the contact was enrolled before and re-entry is off. Does NOT commit: the caller's
    transaction holds the event and its enrolment together."""
    if workflow.status != "published" or workflow.published_version_id is None:
        return None
    version = db.session.get_one(WorkflowVersion, workflow.published_version_id)
    if not is_test and not version.settings.get("allow_reentry"):
        if contact.id is None:
            db.session.flush()
        preloaded = db.session.info.get(_PRELOADED, {}).get(contact.id)
        if preloaded is not None:  # a bulk change looked it up already (preload_enrolments)
            if workflow.id in preloaded:
                return None
        else:
            before = select(Enrolment.id).where(
                Enrolment.workflow_id == workflow.id, Enrolment.contact_id == contact.id, Enrolment.is_test.is_(False)
            )
            # Without an autoflush (a bulk tagging would flush once per contact): the rows flushed before
            # are in the query's answer, and the ones added since are remembered by new_enrolment().
            with db.session.no_autoflush:
                if db.session.scalar(select(exists(before))):
                    return None
        added = db.session.info.get(_ADDED, {}).get((workflow.id, id(contact)))
        if added is not None and added in db.session and added.contact is contact:
            return None  # added earlier in this transaction (and not rolled back to a savepoint since)
    return new_enrolment(workflow, version, contact, event, is_test=is_test)


# The enrolments this session added in its current transaction: (workflow id, id(contact)) -> enrolment.
# An enrolment refers to its contact, so that contact's id() cannot be reused while it is here.
_ADDED = "oneslot_added_enrolments"
# For a bulk change, in its transaction: contact id -> ids of the workflows it was enrolled in before.
_PRELOADED = "oneslot_preloaded_enrolments"
PRELOAD_CHUNK = 500


def preload_enrolments(contact_ids: Iterable[int]) -> None:
    """Before a bulk change that may fire triggers for many contacts (a CSV import, a bulk tagging), in
    its transaction: which workflows each contact was enrolled in, in one query per 500 contacts, so the
    re-entry check of enrol() asks nothing more for them. Forgotten at the commit."""
    ids = list(dict.fromkeys(i for i in contact_ids if i is not None))
    preloaded = db.session.info.setdefault(_PRELOADED, {})
    for start in range(0, len(ids), PRELOAD_CHUNK):
        chunk = ids[start : start + PRELOAD_CHUNK]
        for contact_id in chunk:
            preloaded[contact_id] = set()
        query = select(Enrolment.contact_id, Enrolment.workflow_id).where(
            Enrolment.contact_id.in_(chunk), Enrolment.is_test.is_(False)
        )
        with db.session.no_autoflush:  # what this transaction added is in _ADDED
            for contact_id, workflow_id in db.session.execute(query.distinct()):
                preloaded[contact_id].add(workflow_id)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_added(session, *_args):
    session.info.pop(_ADDED, None)
    session.info.pop(_PRELOADED, None)


def new_enrolment(
    workflow: Workflow, version: WorkflowVersion, contact: Contact, event: Mapping | None, is_test: bool = False
) -> Enrolment:
    """An enrolment of the contact in this version, due now, added to the session (not committed)."""
    now = utcnow()
    enrolment = Enrolment(
        workflow_id=workflow.id,
        version_id=version.id,
        contact=contact,
        status="active",
        step_index=0,
        run_at=now,
        attempts=0,
        last_error="",
        event=dict(event or {}),
        is_test=is_test,
        started_at=now,
    )
    db.session.add(enrolment)
    if not is_test:
        db.session.info.setdefault(_ADDED, {})[(workflow.id, id(contact))] = enrolment
    return enrolment


def enrol_manually(workflow: Workflow, contacts: Iterable[Contact] = (), tag: str = "") -> list[Enrolment]:
    """Enrol chosen contacts, or everyone with a tag; commits, returns the new enrolments."""
    chosen = list(contacts)
    if tag:
        chosen += db.session.scalars(select(Contact).where(Contact.tags.any(Tag.name == normalize_tag(tag))))
    event = {"type": "manual", "by": actor()}
    seen, enrolled = set(), []
    for contact in chosen:
        if contact.id in seen:
            continue
        seen.add(contact.id)
        if enrolment := enrol(workflow, contact, event):
            enrolled.append(enrolment)
    db.session.commit()
    audit("workflow.enrol", workflow_id=workflow.id, count=len(enrolled))
    return enrolled
