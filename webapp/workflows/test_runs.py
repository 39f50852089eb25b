"""Test runs ("Test with a contact"): run the published version, or the draft, now for one contact.

A test run is an enrolment with is_test=True that the worker runs like any other (the engine skips
its waits). Its emails go to the admin who started it (event["test_mail_to"]) unless they chose to
send them to the contact; the history marks it "test" and the workflow's counts leave it out.
Testing the draft freezes it as a *test version*: a negative number, created_by "test", never
published, and reused while the draft stays the same (see snapshot()).

A test run leaves no working link behind. Its links are its own (never the contact's real ones) and
work until the earliest of: TEST_LINK_MINUTES after they were made (so the admin can open the test
email and try the booking page; this also covers a run left midway), the admin ending the test run
(end(), which also stops it if it is still going), and its workflow being deleted (withdraw_links()).
The pages that start and show a test run are in test_run_views.py.
"""

from collections.abc import Sequence
from email.utils import parseaddr

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from webapp.audit import actor, audit
from webapp.booking.models import OneTimeLink
from webapp.clock import utcnow
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.workflows import enrolments, program, services
from webapp.workflows.models import Enrolment, Workflow, WorkflowVersion


class TestRefused(ValueError):
    """A test run that cannot start; `errors` holds a message per form field, `problems` the draft's."""

    def __init__(self, errors: dict[str, str], problems: Sequence[str] = ()):
        super().__init__(" ".join([*errors.values(), *problems]))
        self.errors = errors
        self.problems = list(problems)


def is_test_version(version: WorkflowVersion) -> bool:
    """A draft frozen for a test run, never published."""
    return version.number < 0


def draft_problems(workflow: Workflow) -> list[str]:
    """What keeps the draft's steps from running, one line each ("Step 2 (Send Email): …").

    The trigger is left out: a test run enrols its contact by hand, whatever the trigger.
    """
    errors = services.validate(workflow)
    errors.pop("trigger", None)
    numbers = {step.get("id"): (program.number(path), step) for step, path in program.walk(workflow.steps or [])}
    lines: list[str] = []
    for key, fields in errors.items():
        if key == "workflow":
            lines += fields.values()
            continue
        number, step = numbers.get(key, (None, {"id": key}))
        where = f"Step {number} ({enrolments.step_label(step)})" if number else enrolments.step_label(step)
        lines += [f"{where}: {message}" for message in fields.values()]
    return lines


def _same(version: WorkflowVersion, workflow: Workflow) -> bool:
    return (
        version.trigger_type == workflow.trigger_type
        and version.trigger_config == (workflow.trigger_config or {})
        and version.steps == (workflow.steps or [])
        and version.settings == workflow.settings()
    )


def snapshot(workflow: Workflow) -> WorkflowVersion:
    """The draft frozen as a test version (a negative number), or the test version already equal to it."""
    tests = db.session.scalars(
        select(WorkflowVersion)
        .where(WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.number < 0)
        .order_by(WorkflowVersion.number)
    ).all()
    for version in tests:
        if _same(version, workflow):
            return version
    for _ in range(3):  # two admins testing at once may pick the same number: take the next
        lowest = db.session.scalar(
            select(func.min(WorkflowVersion.number)).where(
                WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.number < 0
            )
        )
        version = WorkflowVersion(
            workflow_id=workflow.id,
            number=(lowest or 0) - 1,
            trigger_type=workflow.trigger_type,
            trigger_config=dict(workflow.trigger_config or {}),
            steps=[dict(step) for step in workflow.steps or []],
            settings=workflow.settings(),
            created_by="test",
        )
        try:
            with db.session.begin_nested():
                db.session.add(version)
            return version
        except IntegrityError:
            continue
    raise TestRefused({"version": "Another test is starting right now; try again."})


def start(workflow: Workflow, contact: Contact | None, which: str, send_to_contact: bool, mail_to: str) -> Enrolment:
    """Enrol the contact in a test run of the published version or the draft, due now; commits.

    Raises TestRefused when the contact is missing, nothing is published, the draft has problems, or
    the workflow is paused (the worker holds a paused workflow's enrolments).
    """
    if contact is None:
        raise TestRefused({"contact": "Choose a contact: type a name or an email, then pick one."})
    if which == "published":
        if workflow.published_version_id is None:
            raise TestRefused({"version": "Nothing is published yet: test the draft."})
        version = db.session.get_one(WorkflowVersion, workflow.published_version_id)
    else:
        if problems := draft_problems(workflow):
            raise TestRefused({}, problems)
        version = snapshot(workflow)
    event: dict[str, object] = {"type": "test", "by": actor(), "version": which, "test_mail_to": mail_to}
    event["test_send_to_contact"] = bool(send_to_contact)
    if version.trigger_type in services.CALENDAR_TRIGGERS and version.trigger_config.get("calendar_id"):
        event["calendar_id"] = version.trigger_config["calendar_id"]  # as the trigger's event would carry
    enrolment = services.new_enrolment(workflow, version, contact, event, is_test=True)
    db.session.commit()
    audit("workflow.test", workflow_id=workflow.id, enrolment_id=enrolment.id, version=version.number)
    return enrolment


def find_contact(text: str) -> Contact | None:
    """The contact typed or picked: "ada@example.com" or "Ada Lovelace <ada@example.com>"."""
    address = parseaddr(text or "")[1] or (text or "").strip()
    return contacts.find_by_email(address) if address else None


def _unspent_test_links(*conditions):
    return (
        OneTimeLink.test_run.is_(True),
        OneTimeLink.used_at.is_(None),
        OneTimeLink.revoked_at.is_(None),
        *conditions,
    )


def withdraw_links(*conditions) -> list[int]:
    """Revoke the unused test-run links matching the conditions (in the caller's transaction); their ids."""
    ids = list(db.session.scalars(select(OneTimeLink.id).where(*_unspent_test_links(*conditions))))
    if ids:
        db.session.execute(
            update(OneTimeLink).where(OneTimeLink.id.in_(ids), *_unspent_test_links()).values(revoked_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
    return ids


def end(enrolment: Enrolment) -> list[int]:
    """End a test run now: stop it if it is still going, and revoke the links it made that still work.

    Commits; returns the ids of the links revoked. Ending a run that already ended only withdraws its links.
    """
    if not enrolment.is_test:
        raise ValueError("only a test run can be ended this way")
    now = utcnow()
    if enrolment.status == "active":
        enrolment.status = "failed"
        enrolment.finished_at = now
        enrolment.last_error = "Ended by the admin before its last step."
        enrolment.locked_until = enrolment.locked_by = None
    revoked = withdraw_links(OneTimeLink.enrolment_id == enrolment.id)
    db.session.commit()
    for link_id in revoked:
        audit("link.revoke", link_id=link_id, enrolment_id=enrolment.id)
    audit("workflow.test_end", workflow_id=enrolment.workflow_id, enrolment_id=enrolment.id)
    return revoked


def links_until(enrolment: Enrolment):
    """When the last still-working link of a test run stops working (its expiry), or None when none works."""
    return db.session.scalar(
        select(func.max(OneTimeLink.expires_at)).where(
            *_unspent_test_links(OneTimeLink.enrolment_id == enrolment.id, OneTimeLink.expires_at > utcnow())
        )
    )
