"""Contact pages: list and search, create, edit, delete, inline tags, CSV import. The features above
contacts (booking's links, workflows' enrolments) add their cards' values through add_page_values and
add_list_values, so contacts imports none of them."""

from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from webapp import htmx
from webapp.audit import audit
from webapp.contacts import importer, services
from webapp.contacts.forms import ContactForm, ImportForm, NewContactForm, TagForm
from webapp.contacts.models import Contact, normalize_tag
from webapp.extensions import db

bp = Blueprint("contacts", __name__, url_prefix="/contacts")

# The request's query arguments, as request.args gives them.
Args = MultiDict[str, str]
PageValues = Callable[[Contact, Args], dict[str, Any]]
ListValues = Callable[[Args], dict[str, Any]]
_page_values: list[PageValues] = []
_list_values: list[ListValues] = []


def add_page_values(fn: PageValues) -> None:
    """Have fn(contact, args) add template values to a contact's page (once, however many apps are built).

    The contact page shows cards of the features above contacts, which register at start-up:
    - booking (webapp/booking/admin.py, init_app): the links card of templates/booking/_links.html:
      panel_calendar, panel_contact, link_form, links, new_link (the link just made, ?new_link=),
      link_url, now;
    - workflows (webapp/workflows/__init__.py, init_app): the workflows card: enrol_workflows (the
      published workflows to enrol the contact in) and enrolments (a page of the contact's enrolments,
      ?enrolments_after=).
    Values are asked in the order of registration; no two contributors give the same key.
    """
    if fn not in _page_values:
        _page_values.append(fn)


def add_list_values(fn: ListValues) -> None:
    """Have fn(args) add template values to the contacts list, full page and HTMX results alike (once).

    Registered at start-up by workflows (webapp/workflows/__init__.py, init_app): enrol_workflows, the
    published workflows of the "Enrol selected in…" form and its checkboxes.
    """
    if fn not in _list_values:
        _list_values.append(fn)


def _merged(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The contributors' values in one dict; two giving the same key is a mistake, not an override."""
    values: dict[str, Any] = {}
    for part in parts:
        if clash := values.keys() & part.keys():
            raise KeyError(f"two features give the contact pages {sorted(clash)}")
        values.update(part)
    return values


def _get(contact_id: int) -> Contact:
    return db.session.get(Contact, contact_id) or abort(404)


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
        **_merged(fn(request.args) for fn in _list_values),
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
    """One contact: details and tags, and the cards the features above add (links, workflows)."""
    contact = _get(contact_id)
    return render_template(
        "contacts/show.html",
        contact=contact,
        tag_form=TagForm(formdata=None),
        **_merged(fn(contact, request.args) for fn in _page_values),
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
