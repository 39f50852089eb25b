"""Test runs ("Test with a contact"): run the published version, or the draft, now for one contact.

A test run is an enrolment with is_test=True that the worker runs like any other (the engine skips
its waits). Its emails go to the admin who started it (event["test_mail_to"]) unless they chose to
send them to the contact; the history marks it "test" and the workflow's counts leave it out.
Testing the draft freezes it as a *test version*: a negative number, created_by "test", never
published, and reused while the draft stays the same (see snapshot()).
"""

from email.utils import parseaddr

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from wtforms import BooleanField, RadioField, StringField

from webapp import htmx
from webapp.audit import actor, audit
from webapp.booking import links
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.workflows import enrolments, services
from webapp.workflows.forms import Form
from webapp.workflows.models import Enrolment, Workflow, WorkflowVersion

bp = Blueprint("testruns", __name__, url_prefix="/workflows")
PANEL, RUN = "workflows/_test.html", "workflows/_test_run.html"
# Contacts offered in the search list at a time.
SUGGESTIONS = 20


class TestRefused(ValueError):
    """A test run that cannot start; `errors` holds a message per form field, `problems` the draft's."""

    def __init__(self, errors: dict[str, str], problems: list[str] = ()):
        super().__init__(" ".join([*errors.values(), *problems]))
        self.errors = errors
        self.problems = list(problems)


# --- rules (no HTTP) -----------------------------------------------------------------------------


def is_test_version(version: WorkflowVersion) -> bool:
    """A draft frozen for a test run, never published."""
    return version.number < 0


def draft_problems(workflow: Workflow) -> list[str]:
    """What keeps the draft's steps from running, one line each ("Step 2 (Send Email): …").

    The trigger is left out: a test run enrols its contact by hand, whatever the trigger.
    """
    errors = services.validate(workflow)
    errors.pop("trigger", None)
    numbers = {step.get("id"): (index + 1, step) for index, step in enumerate(workflow.steps or [])}
    lines = []
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
        version = db.session.get(WorkflowVersion, workflow.published_version_id)
    else:
        if problems := draft_problems(workflow):
            raise TestRefused({}, problems)
        version = snapshot(workflow)
    event = {"type": "test", "by": actor(), "version": which, "test_mail_to": mail_to}
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


# --- pages ---------------------------------------------------------------------------------------


class TestRunForm(Form):
    contact = StringField(
        "Contact",
        id="test-contact",
        render_kw={"list": "test-contacts", "autocomplete": "off", "placeholder": "Type a name or an email"},
    )
    version = RadioField(
        "Run",
        choices=[("published", "The published version"), ("draft", "The current draft")],
        default="published",
        validate_choice=False,
        id="test-version",
    )
    send_to_contact = BooleanField("Send emails to the contact", id="test-send-to-contact")

    def which(self) -> str:
        return "draft" if self.version.data == "draft" else "published"


def _workflow(workflow_id: int) -> Workflow:
    return db.session.get(Workflow, workflow_id) or abort(404)


def _suggestions(query: str = "") -> list[Contact]:
    return db.session.scalars(contacts.search_query(query).limit(SUGGESTIONS)).all()


def blank_form(workflow: Workflow) -> TestRunForm:
    """The panel's form as the editor first shows it: the draft when nothing is published."""
    form = TestRunForm(formdata=None)
    form.version.data = "published" if workflow.published_version_id else "draft"
    return form


def _panel(workflow, form, status=200, errors=None, problems=(), run=None):
    """The "Test with a contact" panel for HTMX, the test page otherwise."""
    for name, message in (errors or {}).items():
        form[name].errors = [message]
    context = {
        "workflow": workflow,
        "test_form": form,
        "test_problems": list(problems),
        "test_contacts": _suggestions(),
    }
    if run is not None:
        context.update(_run_context(run))
    return htmx.render("workflows/test.html", PANEL, status=status, **context)


@bp.get("/<int:workflow_id>/test", endpoint="new")
def new(workflow_id):
    """The test form on its own page (the editor shows it as a panel)."""
    workflow = _workflow(workflow_id)
    return _panel(workflow, blank_form(workflow))


@bp.post("/<int:workflow_id>/test", endpoint="start")
def start_view(workflow_id):
    """Start a test run: the live run in the panel (HTMX), or a 303 to the run's page."""
    workflow = _workflow(workflow_id)
    form = TestRunForm()
    try:
        enrolment = start(
            workflow, find_contact(form.contact.data), form.which(), form.send_to_contact.data, current_user.email
        )
    except TestRefused as exc:
        return _panel(workflow, form, 422, exc.errors, exc.problems)
    if not htmx.is_htmx():
        return htmx.redirect_to(url_for("testruns.show", enrolment_id=enrolment.id))
    return _panel(workflow, form, run=enrolment)


@bp.get("/<int:workflow_id>/test/contacts", endpoint="contacts")
def contact_options(workflow_id):
    """The contacts matching what was typed, as the search field's <datalist>."""
    _workflow(workflow_id)
    found = _suggestions(request.args.get("contact", ""))
    return render_template("workflows/_test_contacts.html", test_contacts=found)


def _run_context(enrolment: Enrolment) -> dict:
    [view] = enrolments.views_of([enrolment])
    return {
        "run": enrolment,
        "view": view,
        "link_url": links.url,
        "entered_by": enrolments.describe_event(enrolment.event),
    }


@bp.get("/test-runs/<int:enrolment_id>", endpoint="show")
def show(enrolment_id):
    """A test run's steps as they happen: the fragment polls itself every second until the run ends."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or not enrolment.is_test:
        abort(404)
    db.session.refresh(enrolment)
    return htmx.render("workflows/test_run.html", RUN, workflow=enrolment.workflow, **_run_context(enrolment))
