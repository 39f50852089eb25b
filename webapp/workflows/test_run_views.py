"""The "Test with a contact" pages: the panel and its form, the contact search, and a test run's live
timeline. The rules are in test_runs.py."""

from collections.abc import Sequence

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_login import current_user
from wtforms import BooleanField, RadioField, StringField
from wtforms.fields.choices import SelectChoice

from webapp import htmx
from webapp.booking import links
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.text import counted
from webapp.workflows import enrolments, test_runs
from webapp.workflows.actions.generate_link import TEST_LINK_MINUTES
from webapp.workflows.forms import Form
from webapp.workflows.models import Enrolment, Workflow
from webapp.workflows.test_runs import TestRefused, find_contact, start

bp = Blueprint("testruns", __name__, url_prefix="/workflows")
PANEL, RUN = "workflows/_test.html", "workflows/_test_run.html"
# Contacts offered in the search list at a time.
SUGGESTIONS = 20


class TestRunForm(Form):
    contact = StringField(
        "Contact",
        id="test-contact",
        render_kw={"list": "test-contacts", "autocomplete": "off", "placeholder": "Type a name or an email"},
    )
    version = RadioField(
        "Run",
        choices=[SelectChoice("published", "The published version"), SelectChoice("draft", "The current draft")],
        default="published",
        validate_choice=False,
        id="test-version",
    )
    send_to_contact = BooleanField("Send emails to the contact", id="test-send-to-contact")

    def which(self) -> str:
        return "draft" if self.version.data == "draft" else "published"


def _workflow(workflow_id: int) -> Workflow:
    return db.session.get(Workflow, workflow_id) or abort(404)


def _suggestions(query: str = "") -> Sequence[Contact]:
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
        "test_link_minutes": TEST_LINK_MINUTES,
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
        "links_until": test_runs.links_until(enrolment),
        "test_link_minutes": TEST_LINK_MINUTES,
    }


@bp.get("/test-runs/<int:enrolment_id>", endpoint="show")
def show(enrolment_id):
    """A test run's steps as they happen: the fragment polls itself every second until the run ends."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or not enrolment.is_test:
        abort(404)
    db.session.refresh(enrolment)
    return htmx.render("workflows/test_run.html", RUN, workflow=enrolment.workflow, **_run_context(enrolment))


@bp.post("/test-runs/<int:enrolment_id>/end", endpoint="end")
def end(enrolment_id):
    """End a test run now: stop it if it is still going and withdraw the links it made (the fragment, or a 303)."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or not enrolment.is_test:
        abort(404)
    revoked = test_runs.end(enrolment)
    message = f"Test run #{enrolment.id} ended; {counted(len(revoked), 'link')} withdrawn."
    if not htmx.is_htmx():
        flash(message, "success")
        return htmx.redirect_to(url_for("testruns.show", enrolment_id=enrolment.id))
    db.session.refresh(enrolment)
    return htmx.render("workflows/test_run.html", RUN, workflow=enrolment.workflow, **_run_context(enrolment))
