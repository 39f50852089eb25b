"""Calendar pages: list, create, edit with live slot preview, deactivate, delete."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp import htmx
from webapp.calendars import services
from webapp.calendars.forms import CalendarForm
from webapp.calendars.models import Calendar
from webapp.extensions import db
from webapp.hosts import views as host_views
from webapp.hosts.services import default_host_id

bp = Blueprint("calendars", __name__, url_prefix="/calendars")


def _get(calendar_id: int) -> Calendar:
    return db.session.get(Calendar, calendar_id) or abort(404)


def _form_page(template, form, calendar=None, status=200, saved=False):
    """The settings form as a page, or as the form fragment for HTMX."""
    context = {"form": form, "calendar": calendar, "saved": saved}
    if calendar is not None:
        context["preview"] = services.preview(calendar)
    return htmx.render(template, "calendars/_form.html", status=status, **context)


@bp.get("/")
def list():
    """Every calendar, active ones first."""
    query = select(Calendar).options(selectinload(Calendar.host_links))
    calendars = db.session.scalars(query.order_by(Calendar.archived_at.is_not(None), Calendar.name)).all()
    return render_template("calendars/list.html", calendars=calendars, assignments=services.ASSIGNMENT_LABELS)


@bp.route("/new", methods=["GET", "POST"])
def create():
    """A new calendar; starts with weekdays 09:00–17:00."""
    form = CalendarForm()
    if request.method == "GET":
        for key in ("mon", "tue", "wed", "thu", "fri"):
            form[key].append_entry({"start": "09:00", "end": "17:00"})
        form.load_hosts(default_host_id=default_host_id(current_user.id))
        return _form_page("calendars/new.html", form)
    form.read_hosts(request.form)
    action = request.form.get("action")
    if form.edit_rows(action) or form.move_host(action):
        return _form_page("calendars/new.html", form)
    if form.validate_on_submit():
        hosts = form.host_settings() or services.default_hosts(current_user.id)
        calendar = services.create_calendar(form.settings(), form.weekly(), form.override_rows(), hosts)
        flash(f"Calendar “{calendar.name}” created. Check its preview below.", "success")
        return htmx.redirect_to(url_for("calendars.edit", calendar_id=calendar.id))
    return _form_page("calendars/new.html", form, status=422)


@bp.route("/<int:calendar_id>", methods=["GET", "POST"])
def edit(calendar_id):
    """The calendar's settings, availability and slot preview."""
    calendar = _get(calendar_id)
    if request.method == "GET":
        form = CalendarForm(obj=calendar, calendar_id=calendar.id)
        form.load(calendar)
        form.load_hosts(calendar)
        return _form_page("calendars/edit.html", form, calendar)
    form = CalendarForm(calendar_id=calendar.id)
    form.read_hosts(request.form, calendar)
    action = request.form.get("action")
    if form.edit_rows(action) or form.move_host(action):
        return _form_page("calendars/edit.html", form, calendar)
    if not form.validate_on_submit():
        return _form_page("calendars/edit.html", form, calendar, status=422)
    services.update_calendar(calendar, form.settings(), form.weekly(), form.override_rows(), form.host_settings())
    if not htmx.is_htmx():
        flash("Changes saved.", "success")
        return redirect(url_for("calendars.edit", calendar_id=calendar.id), 303)
    form = CalendarForm(obj=calendar, calendar_id=calendar.id, formdata=None)
    form.load(calendar)
    form.load_hosts(calendar)
    response = _form_page("calendars/edit.html", form, calendar, saved=True)
    return htmx.trigger(htmx.trigger(response, "calendar-saved"), "form-saved")


@bp.get("/<int:calendar_id>/preview")
def preview(calendar_id):
    """The next 7 days of open slots (refreshed after each save)."""
    calendar = _get(calendar_id)
    return htmx.render(
        "calendars/preview.html", "calendars/_preview.html", calendar=calendar, preview=services.preview(calendar)
    )


@bp.post("/<int:calendar_id>/active")
def set_active(calendar_id):
    """Turn bookings on or off for the calendar."""
    calendar = _get(calendar_id)
    active = request.form.get("active") == "1"
    services.set_active(calendar, active)
    flash(f"“{calendar.name}” is {'active' if active else 'inactive: its links show no slots'}.", "success")
    back = (
        url_for("calendars.list")
        if request.form.get("back") == "list"
        else url_for("calendars.edit", calendar_id=calendar.id)
    )
    return redirect(back, 303)


@bp.route("/<int:calendar_id>/delete", methods=["GET", "POST"])
def delete(calendar_id):
    """Confirm, then delete — or archive a calendar that has bookings."""
    calendar = _get(calendar_id)
    if request.method == "GET":
        return render_template("calendars/delete.html", calendar=calendar, has_bookings=calendar.has_bookings())
    name = calendar.name
    if services.delete_or_archive(calendar) == "archived":
        flash(
            f"“{name}” has bookings, so it was archived instead of deleted: its bookings keep their history.", "warning"
        )
    else:
        flash(f"“{name}” was deleted.", "success")
    return redirect(url_for("calendars.list"), 303)


def init_app(app):
    """Register the calendar pages, and tell the host pages which calendars each host hosts."""
    app.register_blueprint(bp)
    host_views.add_calendar_names(services.calendars_of_hosts)
