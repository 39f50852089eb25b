"""Contact pages: list and search, create, edit, delete, inline tags, CSV import."""

from collections.abc import Sequence

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapp import htmx, paging, params
from webapp.audit import audit
from webapp.booking.admin import link_panel_context
from webapp.booking.models import OneTimeLink
from webapp.contacts import importer, services
from webapp.contacts.forms import ContactForm, ImportForm, NewContactForm, TagForm
from webapp.contacts.models import Contact, normalize_tag
from webapp.extensions import db
from webapp.workflows.models import Enrolment, Workflow

bp = Blueprint("contacts", __name__, url_prefix="/contacts")
# The contact page pages two lists: its links (?after=) and its enrolments (?enrolments_after=).
ENROLMENTS_PREFIX = "enrolments_"


def _get(contact_id: int) -> Contact:
    return db.session.get(Contact, contact_id) or abort(404)


def enrollable_workflows() -> Sequence[Workflow]:
    """Published workflows, by name: any of them can take contacts enrolled by hand."""
    query = select(Workflow).where(Workflow.status == "published", Workflow.published_version_id.is_not(None))
    return db.session.scalars(query.order_by(Workflow.name, Workflow.id)).all()


ENROLMENT_ORDER = paging.newest_first(Enrolment.started_at, Enrolment.id)


def enrolments_of(contact: Contact, args=None) -> paging.Page:
    """One page of the contact's enrolments, newest first (args: the request's ?enrolments_after=…)."""
    query = select(Enrolment).where(Enrolment.contact_id == contact.id).options(joinedload(Enrolment.workflow))
    per_page = current_app.config["PAGE_SIZE"]
    return paging.from_args(query, ENROLMENT_ORDER, args or {}, per_page, prefix=ENROLMENTS_PREFIX)


@bp.get("/")
def list():
    """Contacts, newest first or by name, filtered by a search box and a tag."""
    q = request.args.get("q", "").strip()[:200]
    tag = normalize_tag(request.args.get("tag", ""))[:64]
    sort = request.args.get("sort") if request.args.get("sort") in services.SORTS else "newest"
    # Keyset pages (?after= / ?before=); an old ?page=N address shows the first page.
    results, total = services.search(q, tag, sort, request.args, current_app.config["PAGE_SIZE"])
    return htmx.render(
        "contacts/list.html",
        "contacts/_results.html",
        results=results,
        total=total,
        q=q,
        tag=tag,
        sort=sort,
        enrol_workflows=enrollable_workflows(),
    )


@bp.route("/new", methods=["GET", "POST"])
def create():
    """A new contact."""
    form = NewContactForm()
    if form.validate_on_submit():
        contact = services.create_contact(form.details(), form.tag_names())
        flash(f"{contact.name} was added.", "success")
        return redirect(url_for("contacts.show", contact_id=contact.id), 303)
    return render_template("contacts/new.html", form=form), 422 if form.errors else 200


@bp.get("/<int:contact_id>")
def show(contact_id):
    """One contact: details and tags."""
    contact = _get(contact_id)
    new_link = db.session.get(OneTimeLink, request.args.get("new_link", type=params.db_id) or 0)
    panel = link_panel_context(
        contact=contact,
        new_link=new_link if new_link and new_link.contact_id == contact.id else None,
        args=request.args,
    )
    return render_template(
        "contacts/show.html",
        contact=contact,
        tag_form=TagForm(formdata=None),
        enrol_workflows=enrollable_workflows(),
        enrolments=enrolments_of(contact, request.args),
        **panel,
    )


@bp.get("/<int:contact_id>/enrolments")
def enrolments(contact_id):
    """The contact's enrolments (the workflows card reloads them after an enrolment)."""
    contact = _get(contact_id)
    if not htmx.is_htmx():
        cursor = {k: v for k, v in request.args.items() if k.startswith(ENROLMENTS_PREFIX)}
        return redirect(url_for("contacts.show", contact_id=contact.id, _anchor="workflows", **cursor), 303)
    return render_template(
        "contacts/_enrolments.html", contact=contact, enrolments=enrolments_of(contact, request.args)
    )


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
def edit(contact_id):
    """Change a contact's name, email or phone."""
    contact = _get(contact_id)
    form = ContactForm(obj=contact, contact_id=contact.id)
    if form.validate_on_submit():
        services.update_contact(contact, form.details())
        flash("Changes saved.", "success")
        return redirect(url_for("contacts.show", contact_id=contact.id), 303)
    return render_template("contacts/edit.html", form=form, contact=contact), 422 if form.errors else 200


@bp.route("/<int:contact_id>/delete", methods=["GET", "POST"])
def delete(contact_id):
    """Confirm, then delete a contact."""
    contact = _get(contact_id)
    if request.method == "GET":
        return render_template("contacts/delete.html", contact=contact)
    name = contact.name
    services.delete_contact(contact)
    flash(f"{name} was deleted.", "success")
    return redirect(url_for("contacts.list"), 303)


@bp.post("/<int:contact_id>/tags")
def tags_add(contact_id):
    """Add tags (comma-separated); HTMX gets the tag list back, a plain form a redirect."""
    contact = _get(contact_id)
    form = TagForm()
    if not form.validate_on_submit():
        # 422 with the fragment: base.html has htmx swap 422 answers, so the message shows in place.
        return _tags_response(contact, form, error_flash=" ".join(form.names.errors), status=422)
    added = services.add_tags(contact, form.tag_names())
    db.session.commit()
    if added:
        audit("contact.tag_add", contact_id=contact.id, tags=repr(added))
    message = f"Added {', '.join(added)}." if added else "Those tags were already there."
    return _tags_response(contact, TagForm(formdata=None), message=message, event="contact-tags-changed")


@bp.post("/<int:contact_id>/tags/remove")
def tags_remove(contact_id):
    """Remove one tag from the contact."""
    contact = _get(contact_id)
    name = normalize_tag(request.form.get("name", ""))
    removed = services.remove_tag(contact, name)
    if removed:
        db.session.commit()
        audit("contact.tag_remove", contact_id=contact.id, tag=repr(name))
    message = f"Removed {name}." if removed else f"“{name}” was not on this contact."
    return _tags_response(contact, TagForm(formdata=None), message=message, event="contact-tags-changed")


def _tags_response(contact, form, message="", event=None, error_flash="", status=200):
    """The tag list fragment for HTMX; for a plain form, a flash and a 303 back to the contact."""
    if not htmx.is_htmx():
        flash(error_flash or message, "error" if error_flash else "success")
        return redirect(url_for("contacts.show", contact_id=contact.id, _anchor="tags"), 303)
    response = htmx.render(
        "contacts/show.html", "contacts/_tags.html", status=status, contact=contact, tag_form=form, message=message
    )
    return htmx.trigger(response, event) if event else response


@bp.route("/import", methods=["GET", "POST"], endpoint="import")
def import_contacts():
    """Upload a CSV file; the answer lists what happened to every row."""
    form = ImportForm()
    report, error = None, None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            report = importer.import_csv(upload.stream.read(importer.MAX_BYTES + 1), upload.filename or "")
        except importer.FileRefused as exc:
            error = str(exc)
    status = 422 if error or form.errors else 200
    return render_template("contacts/import.html", form=form, report=report, error=error), status


@bp.get("/import/example.csv")
def import_example():
    """A small CSV file showing the columns the importer reads."""
    headers = {"Content-Disposition": "attachment; filename=oneslot-contacts-example.csv"}
    return Response(importer.EXAMPLE, mimetype="text/csv", headers=headers)


def init_app(app):
    """Register the contact pages."""
    app.register_blueprint(bp)
