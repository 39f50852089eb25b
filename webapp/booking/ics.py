"""iCalendar (.ics) files and add-to-calendar links for a booking.

Mail carries iTIP messages (RFC 5546): METHOD:REQUEST with the organiser and the invitee as an attendee
who has accepted, for the booking and each move; METHOD:CANCEL once it is cancelled. Every one has the
booking's stored UID and its SEQUENCE (0 when booked, one more per move and for the cancellation), so
calendar apps update or remove the one event they added. The .ics download is METHOD:PUBLISH (a file
to import, no invitation), with the same UID and SEQUENCE.
"""

from urllib.parse import urlencode

from icalendar import Calendar as ICalendar
from icalendar import Event, vCalAddress, vText

from webapp.booking import team
from webapp.booking.models import Booking
from webapp.branding import services as branding
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.text import one_line

REQUEST, CANCEL, PUBLISH = "REQUEST", "CANCEL", "PUBLISH"


def organizer(calendar: Calendar, booking: Booking | None = None) -> tuple[str, str]:
    """The meeting's organiser as calendar apps show it: (name, address).

    The booking's host (the first, for a collective booking) when it has one; else the calendar's
    notify address when set (a person who reads it), else the address its mail is from (the
    calendar's sender, the branding's, MAIL_DEFAULT_SENDER's), the name being that sender's display
    name.
    """
    host = booking.host if booking is not None else None
    if host is not None and team.mailable(host):
        return one_line(host.name), host.email
    name, address = branding.sender(calendar.sender_name, calendar.sender_email)
    return (name or "OneSlot"), (calendar.notify_email or address)


def method_for(booking: Booking) -> str:
    """The iTIP method of the booking as it stands: CANCEL once cancelled, else REQUEST."""
    return CANCEL if booking.status == "cancelled" else REQUEST


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(name)
    address.params.update(params)
    return address


def _event(booking: Booking, calendar: Calendar, summary: str, description: str) -> Event:
    """The booking as one VEVENT: its UID and SEQUENCE, when, where and its status."""
    event = Event()
    event.add("uid", booking.uid)
    event.add("sequence", booking.sequence)
    event.add("dtstamp", utcnow())
    event.add("dtstart", booking.start_at)
    event.add("dtend", booking.end_at)
    event.add("summary", summary)
    if calendar.location:
        event.add("location", calendar.location)
    if description:
        event.add("description", description)
    event.add("status", "CANCELLED" if booking.status == "cancelled" else "CONFIRMED")
    return event


def for_booking(booking: Booking, method: str | None = None) -> bytes:
    """A one-event calendar: by default the iTIP message for the booking as it stands (method_for)."""
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    method = method or method_for(booking)
    cal = ICalendar()
    cal.add("prodid", "-//OneSlot//Booking//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    event = _event(booking, calendar, calendar.name, calendar.description)
    if method != PUBLISH:
        name, address = organizer(calendar, booking)
        event.add("organizer", _address(address, name))
        # A collective booking's other hosts are attendees too (the first organises).
        for host in [h for h in booking.hosts[1:] if team.mailable(h)]:
            event.add("attendee", _address(host.email, host.name, ROLE="REQ-PARTICIPANT", PARTSTAT="ACCEPTED"))
        attendee = _address(booking.email, booking.name, ROLE="REQ-PARTICIPANT", PARTSTAT="ACCEPTED", RSVP="FALSE")
        event.add("attendee", attendee)
    cal.add_component(event)
    return cal.to_ical()


def for_host_calendar(booking: Booking, description: str) -> bytes:
    """The event written into a host's own calendar (no METHOD: a stored object, not a message).

    Named for the host's eye ("<calendar>: <invitee>"), with the invitee as an attendee. SCHEDULE-AGENT=CLIENT
    tells a server that schedules by itself (RFC 6638) that OneSlot has invited the invitee already, so
    it sends them no second invitation."""
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    cal = ICalendar()
    cal.add("prodid", "-//OneSlot//Booking//EN")
    cal.add("version", "2.0")
    event = _event(booking, calendar, f"{calendar.name}: {booking.name}", description)
    name, address = organizer(calendar)
    event.add("organizer", _address(address, name, **{"SCHEDULE-AGENT": "CLIENT"}))
    attendee = _address(booking.email, booking.name, ROLE="REQ-PARTICIPANT", PARTSTAT="ACCEPTED", RSVP="FALSE")
    attendee.params["SCHEDULE-AGENT"] = "CLIENT"
    event.add("attendee", attendee)
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
