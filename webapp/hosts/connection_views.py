"""A host's connected calendars (CalDAV accounts, ICS feeds): the page, add, choose calendars, sync now,
edit, remove. The host's own page links here; `templates/hosts/_connections.html` is the section."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from webapp.extensions import db
from webapp.hosts import connections, sync
from webapp.hosts.models import CALDAV, Connection, Host
from webapp.text import counted

bp = Blueprint("connections", __name__, url_prefix="/hosts/<int:host_id>/connections")


def _host(host_id: int) -> Host:
    return db.session.get(Host, host_id) or abort(404)


def _connection(host_id: int, connection_id: int) -> Connection:
    connection = db.session.get(Connection, connection_id)
    if connection is None or connection.host_id != host_id:
        abort(404)
    return connection


def _page(host: Host, status: int = 200, errors=None, typed=None, kind: str = ""):
    html = render_template(
        "hosts/connections.html",
        host=host,
        connections=connections.for_host(host.id),
        policies=connections.STALE_POLICIES,
        errors=errors or {},
        typed=typed or {},
        kind=kind,
    )
    return html, status


def _flash_result(connection: Connection, result) -> None:
    if result is None:
        return
    if result.status == "ok":
        flash(f"“{connection.label}” was read: {counted(result.blocks, 'busy time block')} ahead.", "success")
    elif connection.last_success_at is None:
        flash(f"“{connection.label}” is saved but could not be read yet: {result.error}.", "error")
    else:
        flash(f"“{connection.label}” could not be read: {result.error}. The last busy time read is kept.", "error")


@bp.get("/")
def list(host_id):
    """The host's connected calendars and the forms to add one."""
    return _page(_host(host_id))


@bp.post("/caldav")
def add_caldav(host_id):
    """Add a CalDAV account, then read it at once (finding its calendars)."""
    host = _host(host_id)
    form = request.form
    try:
        connection = connections.add_caldav(
            host,
            url=form.get("url", ""),
            username=form.get("username", ""),
            password=form.get("password", ""),
            label=form.get("label", ""),
            stale_policy=form.get("stale_policy"),
        )
    except connections.Invalid as exc:
        typed = {key: form.get(key, "") for key in ("url", "username", "label", "stale_policy")}
        return _page(host, 422, exc.fields, typed, CALDAV)
    _flash_result(connection, sync.sync_one(connection.id))
    return redirect(url_for("connections.list", host_id=host.id, _anchor=f"connection-{connection.id}"), 303)


@bp.post("/ics")
def add_ics(host_id):
    """Subscribe to an ICS feed, then read it at once."""
    host = _host(host_id)
    form = request.form
    try:
        connection = connections.add_ics(
            host, url=form.get("url", ""), label=form.get("label", ""), stale_policy=form.get("stale_policy")
        )
    except connections.Invalid as exc:
        typed = {key: form.get(key, "") for key in ("url", "label", "stale_policy")}
        return _page(host, 422, exc.fields, typed, "ics")
    _flash_result(connection, sync.sync_one(connection.id))
    return redirect(url_for("connections.list", host_id=host.id, _anchor=f"connection-{connection.id}"), 303)


@bp.post("/<int:connection_id>/calendars")
def calendars(host_id, connection_id):
    """Which of a CalDAV account's calendars are checked for conflicts, and which one gets bookings."""
    connection = _connection(host_id, connection_id)
    found = {calendar["url"] for calendar in connection.found_calendars or []}
    reads = [url for url in request.form.getlist("read") if url in found]
    write = request.form.get("write", "")
    if not reads:
        flash("Check at least one calendar for conflicts (or remove the connection).", "error")
    elif write not in found:
        flash("Choose the calendar bookings are added to.", "error")
    else:
        # Every calendar checked is stored as "all" ([]): a calendar added on the server later is read too.
        chosen = [] if set(reads) == found else reads
        connections.update_connection(
            connection, label=connection.label, stale_policy=connection.stale_policy, read_urls=chosen, write_url=write
        )
        _flash_result(connection, sync.sync_one(connection.id))
    return redirect(url_for("connections.list", host_id=host_id, _anchor=f"connection-{connection.id}"), 303)


@bp.post("/<int:connection_id>/sync")
def sync_now(host_id, connection_id):
    """Read the connection now."""
    connection = _connection(host_id, connection_id)
    _flash_result(connection, sync.sync_one(connection.id))
    return redirect(url_for("connections.list", host_id=host_id, _anchor=f"connection-{connection.id}"), 303)


@bp.route("/<int:connection_id>/edit", methods=["GET", "POST"])
def edit(host_id, connection_id):
    """Change the name, the stale policy, the address or the login (an empty password keeps the saved one)."""
    host, connection = _host(host_id), _connection(host_id, connection_id)
    saved_url = connection.url  # a feed's: its host only (a new address replaces it)
    errors: dict[str, str] = {}
    typed = {"label": connection.label, "stale_policy": connection.stale_policy}
    if connection.kind == CALDAV:
        typed.update(url=connection.url, username=connection.username)
    if request.method == "POST":
        form = request.form
        typed = {key: form.get(key, "") for key in ("label", "stale_policy", "url", "username")}
        try:
            connections.update_connection(
                connection,
                label=form.get("label", ""),
                stale_policy=form.get("stale_policy"),
                url=form.get("url", "") if connection.kind == CALDAV else form.get("url", "").strip() or None,
                username=form.get("username", "") if connection.kind == CALDAV else None,
                password=form.get("password", ""),
            )
        except connections.Invalid as exc:
            errors = exc.fields
        else:
            new_url = (form.get("url") or "").strip()
            if form.get("password") or (new_url != saved_url if connection.kind == CALDAV else new_url):
                # A new login or address: read it now, so the page says at once whether it works.
                result = sync.sync_one(connection.id)
                db.session.refresh(connection)
                _flash_result(connection, result)
            else:
                flash(f"“{connection.label}” is saved.", "success")
            return redirect(url_for("connections.list", host_id=host_id, _anchor=f"connection-{connection.id}"), 303)
    html = render_template(
        "hosts/connection_edit.html",
        host=host,
        connection=connection,
        errors=errors,
        typed=typed,
        policies=connections.STALE_POLICIES,
    )
    return html, 422 if errors else 200


@bp.route("/<int:connection_id>/remove", methods=["GET", "POST"])
def remove(host_id, connection_id):
    """Confirm, then remove a connection and the busy time read from it."""
    host, connection = _host(host_id), _connection(host_id, connection_id)
    if request.method == "GET":
        return render_template("hosts/connection_remove.html", host=host, connection=connection)
    label = connection.label
    connections.remove(connection)
    flash(f"“{label}” is removed; its busy time no longer blocks {host.name}'s calendars.", "success")
    return redirect(url_for("connections.list", host_id=host_id), 303)
