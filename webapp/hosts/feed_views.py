"""The host's bookings feed, for admins: create the secret URL (shown once), replace it, turn it off.

templates/hosts/_feed.html is the section; it ends the host's page (hosts/edit.html) and stands
on its own page here (/hosts/<id>/feed). Create and Replace answer with the URL in the page
itself (not Post/Redirect/Get: carrying it to a GET would put the secret in the session cookie)."""

from flask import Blueprint, abort, flash, redirect, url_for
from flask_wtf import FlaskForm

from webapp import htmx
from webapp.extensions import db
from webapp.hosts import feed
from webapp.hosts.models import Host

bp = Blueprint("host_feeds", __name__, url_prefix="/hosts")


def _host(host_id: int) -> Host:
    return db.session.get(Host, host_id) or abort(404)


def _page(host: Host, status: int = 200, feed_url: str | None = None, note: str = ""):
    """The page, or for HTMX (the section inside the host's page) the section alone."""
    response = htmx.render(
        "hosts/feed.html", "hosts/_feed.html", status, host=host, feed_form=FlaskForm(), feed_url=feed_url, note=note
    )
    if feed_url:
        response.headers["Cache-Control"] = "no-store"  # the one page that holds the URL
    return response


@bp.get("/<int:host_id>/feed")
def show(host_id):
    """The host's feed: on or off, and the buttons."""
    return _page(_host(host_id))


@bp.post("/<int:host_id>/feed")
def create(host_id):
    """Make a new feed URL (the old one, if any, stops working) and show it, once."""
    host = _host(host_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    token = feed.create(host)
    return _page(host, 201, feed_url=feed.url(token))


@bp.post("/<int:host_id>/feed/off")
def turn_off(host_id):
    """Turn the feed off: its URL answers 404 from now on."""
    host = _host(host_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    note = "The feed is off; its link no longer works." if feed.turn_off(host) else "The feed was already off."
    if htmx.is_htmx():
        return _page(host, note=note)
    flash(note, "success")
    return redirect(url_for("host_feeds.show", host_id=host.id), 303)
