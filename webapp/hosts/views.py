"""Host pages: the list, add a host, a host's page (details, photo, own hours, time off), deactivate or
delete; and the public photo address the booking pages use."""

from collections.abc import Callable, Iterable

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp import paging
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.hosts import connections, photos, services
from webapp.hosts.forms import ActionForm, HostForm, HoursForm, PhotoForm, TimeOffForm
from webapp.hosts.models import Host, HostTimeOff
from webapp.zones import zone_info

bp = Blueprint("hosts", __name__, url_prefix="/hosts")

HOST_ORDER = paging.oldest_first(Host.name, Host.id)
PER_PAGE = 50
TIME_OFF_SHOWN = 100
PHOTO_CACHE = "public, max-age=31536000, immutable"  # the version is in the URL: a new photo, a new URL

# The calendars each host hosts come from calendars (above hosts), registered at start-up:
# provider(host_ids) -> {host_id: [(calendar_id, name), …]}.
_calendar_providers: list[Callable[[Iterable[int]], dict[int, list[tuple[int, str]]]]] = []


def add_calendar_names(provider) -> None:
    """Make provider(host_ids) the source of the "Calendars" the host pages show."""
    if provider not in _calendar_providers:
        _calendar_providers.append(provider)


def calendars_of(host_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """{host_id: [(calendar_id, calendar name), …]} for the hosts given."""
    host_ids = list(host_ids)
    found: dict[int, list[tuple[int, str]]] = {host_id: [] for host_id in host_ids}
    for provider in _calendar_providers:
        for host_id, names in provider(host_ids).items():
            found.setdefault(host_id, []).extend(names)
    return found


@bp.app_template_filter("initials")
def initials(name: str) -> str:
    """ "Ada Lovelace" -> "AL"; the avatar of a host without a photo."""
    letters = [word[0] for word in (name or "").split() if word[:1].isalnum()]
    return "".join(letters[:1] + letters[1:][-1:]).upper() or "?"


def _get(host_id: int) -> Host:
    return db.session.get(Host, host_id) or abort(404)


@bp.get("/", endpoint="list")
def list_hosts():
    """Every host by name, a page at a time."""
    page = paging.from_args(select(Host), HOST_ORDER, request.args, PER_PAGE)
    return render_template("hosts/list.html", page=page, calendars=calendars_of(h.id for h in page))


@bp.get("/me")
def mine():
    """The signed-in admin's own host page (linked from Settings)."""
    host = services.host_for_admin(current_user)
    db.session.commit()  # an admin from before hosts gets theirs now
    return redirect(url_for("hosts.edit", host_id=host.id), 303)


@bp.route("/new", methods=["GET", "POST"])
def create():
    """Add a host who does not sign in (a team member meetings are with)."""
    form = HostForm()
    if request.method == "GET":
        form.timezone.data = current_user.timezone or "UTC"
    elif form.validate_on_submit():
        host = services.add_host(**form.changes())
        flash(f"Host “{host.name}” added. Add a photo or their own hours below.", "success")
        return redirect(url_for("hosts.edit", host_id=host.id), 303)
    return render_template("hosts/new.html", form=form), 422 if form.errors else 200


def _page(host: Host, status: int = 200, **forms):
    """The host's page; `forms` replaces the fresh form of the part that was just posted."""
    if "form" not in forms:
        forms["form"] = HostForm(obj=host, host_id=host.id, formdata=None)
    if "hours_form" not in forms:
        hours_form = HoursForm(formdata=None)
        hours_form.load(host)
        forms["hours_form"] = hours_form
    forms.setdefault("photo_form", PhotoForm(formdata=None))
    forms.setdefault("time_off_form", TimeOffForm(formdata=None))
    today = utcnow().astimezone(zone_info(host.timezone)).date()
    upcoming = db.session.scalars(
        select(HostTimeOff)
        .where(HostTimeOff.host_id == host.id, HostTimeOff.last_day >= today)
        .order_by(HostTimeOff.first_day, HostTimeOff.id)
        .limit(TIME_OFF_SHOWN)
    ).all()
    context = {
        "host": host,
        "time_off": upcoming,
        "today": today,
        "calendars": calendars_of([host.id])[host.id],
        "in_use": services.in_use(host),
        # The page's last sections: the connected calendars (hosts/_connections.html) and the bookings
        # feed (hosts/_feed.html), each also a page of its own.
        "connections": connections.for_host(host.id),
        "policies": connections.STALE_POLICIES,
        "feed_form": ActionForm(formdata=None),
        **forms,
    }
    return render_template("hosts/edit.html", **context), status


@bp.route("/<int:host_id>", methods=["GET", "POST"])
def edit(host_id):
    """The host's page; a POST saves their name, email and zone."""
    host = _get(host_id)
    if request.method == "GET":
        return _page(host)
    form = HostForm(host_id=host.id)
    if not form.validate_on_submit():
        return _page(host, 422, form=form)
    services.update_host(host, form.changes())
    flash("Changes saved.", "success")
    return redirect(url_for("hosts.edit", host_id=host.id), 303)


@bp.post("/<int:host_id>/photo")
def upload_photo(host_id):
    """Store a new photo, centre-cropped and resized."""
    host = _get(host_id)
    form = PhotoForm()
    upload = request.files.get("photo")
    if form.validate_on_submit():
        try:
            photos.set_photo(host, upload.read(photos.MAX_BYTES + 1) if upload else b"")
        except photos.PhotoError as exc:
            form.photo.errors = [str(exc)]
        else:
            flash("Photo saved.", "success")
            return redirect(url_for("hosts.edit", host_id=host.id), 303)
    return _page(host, 422, photo_form=form)


@bp.post("/<int:host_id>/photo/remove")
def remove_photo(host_id):
    """Remove the host's photo (their initials show instead)."""
    host = _get(host_id)
    if ActionForm().validate_on_submit():
        photos.remove_photo(host)
        flash("Photo removed.", "success")
    return redirect(url_for("hosts.edit", host_id=host.id), 303)


@bp.get("/<int:host_id>/photo/<int:version>")
def photo(host_id, version):
    """The host's photo, public (booking pages show it); the version in the URL lets it be cached for good."""
    found = photos.photo_of(host_id, version)
    if found is None:
        abort(404)
    data, content_type = found
    response = make_response(data)
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = PHOTO_CACHE
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/<int:host_id>/hours")
def hours(host_id):
    """Turn the host's own hours on or off and save their weekly ranges (or add/remove a row)."""
    host = _get(host_id)
    form = HoursForm()
    if form.edit_rows(request.form.get("action")):
        return _page(host, hours_form=form)
    if not form.validate_on_submit():
        return _page(host, 422, hours_form=form)
    services.set_hours(host, bool(form.own_hours.data), form.weekly())
    flash(
        "Working hours saved." if form.own_hours.data else "Saved: the calendars' hours apply to this host.", "success"
    )
    return redirect(url_for("hosts.edit", host_id=host.id, _anchor="hours"), 303)


@bp.post("/<int:host_id>/time-off")
def add_time_off(host_id):
    """Add days the host is away."""
    host = _get(host_id)
    form = TimeOffForm()
    if not form.validate_on_submit():
        return _page(host, 422, time_off_form=form)
    first, last = form.days()
    services.add_time_off(host, first, last, form.note.data or "")
    flash("Time off added.", "success")
    return redirect(url_for("hosts.edit", host_id=host.id, _anchor="time-off"), 303)


@bp.post("/<int:host_id>/time-off/<int:time_off_id>/remove")
def remove_time_off(host_id, time_off_id):
    """Remove one time-off entry."""
    host = _get(host_id)
    if ActionForm().validate_on_submit() and services.remove_time_off(host, time_off_id):
        flash("Time off removed.", "success")
    return redirect(url_for("hosts.edit", host_id=host.id, _anchor="time-off"), 303)


@bp.post("/<int:host_id>/active")
def set_active(host_id):
    """Deactivate a host (not offered on calendars any more, kept on old bookings) or activate them again."""
    host = _get(host_id)
    if ActionForm().validate_on_submit():
        active = request.form.get("active") == "1"
        services.update_host(host, {"is_active": active})
        flash(f"“{host.name}” is {'active' if active else 'inactive: no calendar offers them any more'}.", "success")
    return redirect(url_for("hosts.edit", host_id=host.id), 303)


@bp.route("/<int:host_id>/delete", methods=["GET", "POST"])
def delete(host_id):
    """Confirm, then delete — or deactivate a host who has bookings or is an admin."""
    host = _get(host_id)
    if request.method == "GET":
        return render_template("hosts/delete.html", host=host, in_use=services.in_use(host))
    name = host.name
    if not ActionForm().validate_on_submit():
        abort(400)
    if services.delete_or_deactivate(host) == "deactivated":
        flash(f"“{name}” has bookings or is an admin, so they were deactivated instead of deleted.", "warning")
        return redirect(url_for("hosts.edit", host_id=host_id), 303)
    flash(f"“{name}” was deleted.", "success")
    return redirect(url_for("hosts.list"), 303)


def init_app(app):
    """Register the host pages."""
    app.register_blueprint(bp)
