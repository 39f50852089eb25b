"""iCalendar (.ics) files and add-to-calendar links for a booking."""

from urllib.parse import urlencode, urlsplit

from flask import current_app
from icalendar import Calendar as ICalendar
from icalendar import Event

from webapp.booking.models import Booking
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.extensions import db


def _uid(booking: Booking) -> str:
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "oneslot"
    return f"booking-{booking.id}@{host}"


def for_booking(booking: Booking) -> bytes:
    """A one-event calendar file; a cancelled booking gives a CANCEL so calendar apps remove it."""
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    cal = ICalendar()
    cal.add("prodid", "-//OneSlot//Booking//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if booking.status == "cancelled" else "PUBLISH")
    event = Event()
    event.add("uid", _uid(booking))
    event.add("dtstamp", utcnow())
    event.add("dtstart", booking.start_at)
    event.add("dtend", booking.end_at)
    event.add("summary", calendar.name)
    event.add("sequence", int((booking.rescheduled_at or booking.created_at).timestamp()))
    if calendar.location:
        event.add("location", calendar.location)
    if calendar.description:
        event.add("description", calendar.description)
    event.add("status", "CANCELLED" if booking.status == "cancelled" else "CONFIRMED")
    cal.add_component(event)
    return cal.to_ical()


def google_calendar_url(booking: Booking) -> str:
    """An 'add to Google Calendar' link (opened by the invitee, so no token may be in it)."""
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    fmt = "%Y%m%dT%H%M%SZ"
    query = {
        "action": "TEMPLATE",
        "text": calendar.name,
        "dates": f"{booking.start_at.strftime(fmt)}/{booking.end_at.strftime(fmt)}",
        "details": calendar.description,
        "location": calendar.location,
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(query)
