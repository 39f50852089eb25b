"""A host's bookings as an iCalendar feed: GET /feeds/hosts/<token>.ics, for calendar apps to subscribe to.

The token is the host's (webapp/hosts/feed.py: secret, replaced or turned off by an admin; unknown,
replaced and turned-off tokens answer 404 alike). The feed holds the host's bookings that end after
30 days ago: confirmed ones as events, cancelled ones as STATUS:CANCELLED so subscribed apps drop
them, each with the booking's UID and SEQUENCE (the invitee's invitation has the same), times in UTC,
"<calendar>: <invitee name>" as the summary and the calendar's location. Nothing secret is in it: no
manage or booking link, no notes, no invitee email. At most MAX_EVENTS, soonest first, read through
booking_hosts' (host_id, active, busy_end) index. The body is stable between changes (DTSTAMP is
the booking's last change), so its ETag lets apps poll with If-None-Match and get 304.
"""

import hashlib
from datetime import timedelta

from flask import Blueprint, abort, make_response, request
from icalendar import Calendar as ICalendar
from icalendar import Event
from sqlalchemy import select

from webapp.booking.models import Booking, BookingHost
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.extensions import db, limiter
from webapp.hosts import feed as host_feed
from webapp.hosts.models import Host

bp = Blueprint("feeds", __name__)

PAST = timedelta(days=30)
MAX_EVENTS = 2000


def rows(host: Host, now=None):
    """(Booking, calendar name, calendar location) of the host's bookings ending after now − PAST, soonest first."""
    cutoff = (now or utcnow()) - PAST
    query = (
        select(Booking, Calendar.name, Calendar.location)
        .join(BookingHost, BookingHost.booking_id == Booking.id)
        .join(Calendar, Calendar.id == Booking.calendar_id)
        # busy_end ≥ end_at (buffers widen it): the index narrows, end_at decides.
        .where(BookingHost.host_id == host.id, BookingHost.busy_end > cutoff, Booking.end_at > cutoff)
        .where(Booking.status.in_(("confirmed", "cancelled")))
        .order_by(Booking.start_at, Booking.id)
        .limit(MAX_EVENTS)
    )
    return db.session.execute(query).all()


def for_host(host: Host, now=None) -> bytes:
    """The host's feed as iCalendar text."""
    cal = ICalendar()
    cal.add("prodid", "-//OneSlot//Host bookings//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"OneSlot: {host.name}")
    for booking, calendar_name, location in rows(host, now):
        event = Event()
        event.add("uid", booking.uid)
        event.add("sequence", booking.sequence)
        changed = max(t for t in (booking.created_at, booking.rescheduled_at, booking.cancelled_at) if t is not None)
        event.add("dtstamp", changed)
        event.add("dtstart", booking.start_at)
        event.add("dtend", booking.end_at)
        event.add("summary", f"{calendar_name}: {booking.name}")
        if location:
            event.add("location", location)
        event.add("status", "CANCELLED" if booking.status == "cancelled" else "CONFIRMED")
        event.add("transp", "TRANSPARENT" if booking.status == "cancelled" else "OPAQUE")
        cal.add_component(event)
    return cal.to_ical()


@bp.get("/feeds/hosts/<token>.ics")
@limiter.limit("60/minute")
def host(token):
    """The host's bookings feed (404 for an unknown, replaced or turned-off token)."""
    found = host_feed.find(token) or abort(404)
    body = for_host(found)
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="bookings.ics"'
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    return response.make_conditional(request)
