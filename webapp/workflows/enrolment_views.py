"""The enrolment pages: a workflow's history (its enrolments, filterable), one enrolment's timeline,
retrying a failed one, the manual enrolment form, and the workflows card of a contact's page (its values,
registered with the contact pages by init_app, and its fragment). The rules and queries are in
enrolments.py."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional, ValidationError

from webapp import htmx, params
from webapp.booking import links
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.text import counted
from webapp.workflows.enrolments import (
    CONTACT_PREFIX,
    LINK_FILTERS,
    STATUS_FILTERS,
    EnrolReport,
    contact_enrolments,
    describe_event,
    enrollable_workflows,
    enrolments_page,
    manual_enrol,
    retry,
    status_counts,
    views_of,
)
from webapp.workflows.models import Enrolment, Workflow

bp = Blueprint("enrolments", __name__)

# Names shown in the skipped list of a manual enrolment before "and N more".
SHOWN_NAMES = 10


class EnrolForm(FlaskForm):
    """Manual enrolment: an email, a tag, or contact_id fields (read from the request by the view)."""

    email = StringField("Contact's email", [Optional(), Length(max=254)])
    tag = StringField("Everyone with the tag", [Optional(), Length(max=64)])

    def validate_email(self, field):
        if field.data and (problem := contacts.email_error(field.data.strip())):
            raise ValidationError(problem)


def _workflow(workflow_id: int) -> Workflow:
    return db.session.get(Workflow, workflow_id) or abort(404)


def _enrolment(enrolment_id: int) -> Enrolment:
    return db.session.get(Enrolment, enrolment_id) or abort(404)


def _editor_available() -> bool:
    # The workflow editor is another blueprint; link to it only when it is there.
    return "workflows.edit" in current_app.view_functions


def _back(default: str) -> str:
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


@bp.get("/workflows/<int:workflow_id>/enrolments", endpoint="list")
def index(workflow_id):
    """A workflow's enrolments: contact, start, current step, status and link state, filterable."""
    workflow = _workflow(workflow_id)
    status = request.args.get("status", "all")
    status = status if status in STATUS_FILTERS else "all"
    link = request.args.get("link", "any")
    link = link if link in LINK_FILTERS else "any"
    page = enrolments_page(workflow, status, link, request.args)
    context = {
        "workflow": workflow,
        "pagination": page,
        "rows": views_of(page.items),
        # Not "status": htmx.render() takes the HTTP status under that name.
        "shown_status": status,
        "shown_link": link,
        "status_filters": STATUS_FILTERS,
        "link_filters": LINK_FILTERS,
        "counts": status_counts(workflow),
        "editor": _editor_available(),
        "enrol_workflow": workflow,
    }
    return htmx.render("enrolments/list.html", "enrolments/_table.html", **context)


@bp.get("/enrolments/<int:enrolment_id>", endpoint="show")
def show(enrolment_id):
    """One enrolment's timeline: each step's run, output, attempts, times and error."""
    enrolment = _enrolment(enrolment_id)
    [view] = views_of([enrolment])
    return render_template(
        "enrolments/show.html",
        view=view,
        enrolment=enrolment,
        entered_by=describe_event(enrolment.event or {}),
        editor=_editor_available(),
        link_url=links.url,
    )


@bp.post("/enrolments/<int:enrolment_id>/retry", endpoint="retry")
def retry_view(enrolment_id):
    """Send a failed enrolment back to the worker from the step that failed."""
    enrolment = _enrolment(enrolment_id)
    if retry(enrolment):
        paused = enrolment.workflow.status == "paused"
        note = " It waits until the workflow is resumed." if paused else " The worker picks it up in a moment."
        flash(f"Retrying {enrolment.contact.name}'s enrolment from the step that failed.{note}", "success")
    else:
        flash("This enrolment has not failed, so there is nothing to retry.", "warning")
    return htmx.redirect_to(url_for("enrolments.show", enrolment_id=enrolment.id))


@bp.post("/workflows/enrol", endpoint="enrol", defaults={"workflow_id": None})
@bp.post("/workflows/<int:workflow_id>/enrol", endpoint="enrol")
def enrol(workflow_id):
    """Enrol contacts by hand: one by email, a selection of contact ids, or everyone with a tag.
    Without an id in the URL, the workflow is the form's `workflow_id` (the contact list's <select>)."""
    if workflow_id is None:
        workflow_id = request.form.get("workflow_id", type=params.db_id)
        if not workflow_id:
            flash("Choose a workflow to enrol the selected contacts in.", "error")
            return redirect(_back(url_for("contacts.list")), 303)
    workflow = _workflow(workflow_id)
    form = EnrolForm()
    contact_ids = request.form.getlist("contact_id", type=params.db_id)
    values = {"email": (form.email.data or "").strip(), "tag": (form.tag.data or "").strip()}
    error, report = "", None
    if not form.validate_on_submit():
        error = " ".join(message for messages in form.errors.values() for message in messages)
    elif not (values["email"] or values["tag"] or contact_ids):
        # The contact list's "Enrol selected in…" form posts only checked contacts.
        selection = request.form.get("source") == "selection"
        error = "Select at least one contact first." if selection else "Enter a contact’s email or a tag."
    else:
        report = manual_enrol(workflow, values["email"], contact_ids, values["tag"])
    if htmx.is_htmx():
        # After a success the inputs are emptied; after an error they keep what was typed.
        kept = {} if report and report.count else values
        context = {"enrol_workflow": workflow, "enrol_result": report, "enrol_error": error, "enrol_values": kept}
        if request.form.get("as_button") and len(contact_ids) == 1:
            # The one-button form of a contact's page answers with that button again.
            context["enrol_contact"] = db.session.get(Contact, contact_ids[0])
        response = htmx.render(
            "enrolments/_enrol_form.html", "enrolments/_enrol_form.html", status=422 if error else 200, **context
        )
        return htmx.trigger(response, "enrolments-changed") if report and report.count else response
    if error:
        flash(error, "error")
    else:
        flash(summary(report), "success" if report.count else "warning")
    return redirect(_back(url_for("enrolments.list", workflow_id=workflow.id)), 303)


def contact_page_values(contact, args) -> dict:
    """The workflows card of a contact's page: the workflows to enrol it in and a page of its enrolments."""
    return {"enrol_workflows": enrollable_workflows(), "enrolments": contact_enrolments(contact, args)}


def booking_page_values(booking, link) -> dict:
    """The booking page's "made by" lines: the workflow and enrolment whose step issued the booking's link."""
    if link is None:
        return {}
    return {
        "workflow": db.session.get(Workflow, link.workflow_id) if link.workflow_id else None,
        "enrolment": db.session.get(Enrolment, link.enrolment_id) if link.enrolment_id else None,
    }


def contact_list_values(args) -> dict:
    """The contacts list's "Enrol selected in…" form: the workflows it offers."""
    return {"enrol_workflows": enrollable_workflows()}


@bp.get("/contacts/<int:contact_id>/enrolments", endpoint="of_contact")
def of_contact(contact_id):
    """A contact's enrolments (the workflows card reloads them after an enrolment; a plain request gets the
    contact page)."""
    contact = db.session.get(Contact, contact_id) or abort(404)
    if not htmx.is_htmx():
        cursor = {k: v for k, v in request.args.items() if k.startswith(CONTACT_PREFIX)}
        return redirect(url_for("contacts.show", contact_id=contact.id, _anchor="workflows", **cursor), 303)
    return render_template(
        "enrolments/_of_contact.html", contact=contact, enrolments=contact_enrolments(contact, request.args)
    )


def summary(report: EnrolReport) -> str:
    """One line for a flash: the count, then each reason with the first few names."""
    parts = [f"{counted(report.count, 'contact')} enrolled."]
    for reason, names in report.skipped:
        if names:
            shown = ", ".join(names[:SHOWN_NAMES]) + (
                f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else ""
            )
            parts.append(f"Skipped {len(names)}: {reason} ({shown})")
        else:
            parts.append(reason)
    return " ".join(parts)
