"""Booking with a one-time link, and cancelling or moving a booking: the rules behind the public pages.

A link made for a contact books with the contact's email (never one the page posts), unless the
calendar allows invitees to book with another email; then the contact on file is told, by mail,
that their link was used and by which address. Only a link whose contact was deleted takes any address.

Consuming a link is one conditional UPDATE whose row count decides, in the same transaction that
inserts the booking. Before it, the transaction bumps the calendar's `booking_seq`: that row lock
(PostgreSQL) or write lock (SQLite) makes bookings of one calendar take turns, so the seat check
that follows sees every booking committed before it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import or_, select, update

from webapp import events, i18n, tokens
from webapp.audit import audit
from webapp.auth.models import User
from webapp.booking import counts, ics
from webapp.booking.models import Booking, OneTimeLink
from webapp.calendars.models import Calendar
from webapp.calendars.services import slot_at
from webapp.clock import utcnow
from webapp.contacts.models import Contact, normalize_email
from webapp.extensions import db
from webapp.i18n import _, _l, ngettext
from webapp.mail.outbox import queue_email
from webapp.text import one_line
from webapp.zones import format_datetime

MANAGE = "manage"

# How the booking page asks for the email (email_mode).
BOUND = "bound"  # the contact's email, shown masked, not editable
OTHER = "other"  # the contact's email unless another is typed (the calendar allows it)
FREE = "free"  # a link without a contact (deleted since): the invitee types one


class BookingError(Exception):
    """A booking that cannot be made or changed; `status` is the HTTP answer, the message says why."""

    status = 400

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason


class LinkUnavailable(BookingError):
    status = 410


class SlotUnavailable(BookingError):
    status = 409


class ChangeNotAllowed(BookingError):
    status = 403


class InviteeInvalid(BookingError):
    status = 422


GONE_MESSAGES = {
    "used": _l("This booking link has already been used."),
    "expired": _l("This booking link has expired."),
    "revoked": _l("This booking link has been withdrawn."),
}


@dataclass(frozen=True)
class Invitee:
    """What the person booking typed in; `email` is "" when they typed none (or could not)."""

    name: str
    email: str
    timezone: str
    notes: str = ""
    locale: str = ""  # the booking page's ("de_DE"): their mail speaks it


def email_mode(has_contact: bool, allow_other_email: bool) -> str:
    """BOUND, OTHER or FREE: whether the page shows the contact's email or asks for one."""
    if not has_contact:
        return FREE
    return OTHER if allow_other_email else BOUND


def _booking_address(contact: Contact | None, calendar: Calendar, typed: str) -> str:
    """The address the booking is made with: the contact's, unless the calendar lets the invitee type another."""
    if contact is None:
        if not typed:
            raise InviteeInvalid(_("We need your email to send the confirmation."))
        return typed
    if typed and calendar.allow_other_email:
        return typed
    return contact.email


def _lock_calendar(calendar_id: int) -> None:
    """Take the calendar's booking lock: the first statement of the booking transaction."""
    db.session.execute(update(Calendar).where(Calendar.id == calendar_id).values(booking_seq=Calendar.booking_seq + 1))


def _start_transaction(calendar_id: int) -> None:
    # Whatever the session did before (reads) is closed, so the lock opens a fresh transaction
    # and everything read after it is current.
    db.session.commit()
    _lock_calendar(calendar_id)


def book(link: OneTimeLink, start: datetime, invitee: Invitee) -> Booking:
    """Book `start` with the link: exactly once, only while the slot has a seat left, with the contact's email."""
    link_id, calendar_id, contact_id = link.id, link.calendar_id, link.contact_id
    _start_transaction(calendar_id)
    now = utcnow()
    consumed = db.session.execute(
        update(OneTimeLink)
        .where(
            OneTimeLink.id == link_id,
            OneTimeLink.used_at.is_(None),
            OneTimeLink.revoked_at.is_(None),
            or_(OneTimeLink.expires_at.is_(None), OneTimeLink.expires_at > now),
        )
        .values(used_at=now)
        .returning(OneTimeLink.opened_at, *counts.COLUMNS)
    ).first()
    if consumed is None:
        db.session.rollback()
        db.session.refresh(link)
        status = link.status
        message = GONE_MESSAGES.get(status) or _l("This booking link can no longer be used.")
        raise LinkUnavailable(str(message), status)
    calendar = db.session.get_one(Calendar, calendar_id, populate_existing=True)
    contact = db.session.get(Contact, contact_id, populate_existing=True) if contact_id else None
    try:
        email = _booking_address(contact, calendar, invitee.email)
    except InviteeInvalid:
        db.session.rollback()
        raise
    slot = slot_at(calendar, start, now)
    if slot is None:
        db.session.rollback()
        raise SlotUnavailable(_("Sorry, that time was just taken or is no longer available. Please pick another."))
    booking = Booking(
        calendar_id=calendar_id,
        contact_id=contact_id,
        start_at=slot.start,
        end_at=slot.end,
        name=invitee.name,
        email=email,
        timezone=invitee.timezone,
        notes=invitee.notes,
        locale=i18n.valid_locale(invitee.locale) if invitee.locale else "",
    )
    db.session.add(booking)
    db.session.flush()
    db.session.execute(update(OneTimeLink).where(OneTimeLink.id == link_id).values(booking_id=booking.id))
    # opened_at as the row is now: a racing first opening that committed already counted the link opened.
    counts.bump(consumed, booked=1, opened=int(consumed.opened_at is None))
    _notify(booking, "confirmed")
    if contact is not None and normalize_email(email) != contact.email_key:
        _tell_contact(booking, contact)
    events.booking_made.send(booking, link_id=link_id)
    db.session.commit()
    db.session.refresh(link)
    audit("link.consume", link_id=link_id, booking_id=booking.id, calendar_id=calendar_id)
    return booking


def find_by_manage_token(token: str) -> Booking | None:
    """The booking a manage token belongs to, or None."""
    digest = tokens.lookup_digest(token or "")
    if digest is None:
        return None
    booking = db.session.scalar(select(Booking).where(Booking.manage_digest == digest))
    return booking if booking is not None and tokens.verify(MANAGE, token, booking.manage_salt) else None


def manage_token(booking: Booking) -> str | None:
    """The booking's working manage token; None once the key it was made under is retired."""
    return tokens.token_for(MANAGE, booking.manage_salt, booking.manage_digest)


def manage_url(booking: Booking) -> str | None:
    """The absolute manage (confirmation, cancel, reschedule) URL of a booking."""
    return tokens.url(MANAGE, booking.manage_salt, booking.manage_digest)


def change_deadline(booking: Booking) -> datetime:
    """Until when the invitee may cancel or reschedule."""
    return booking.start_at - timedelta(hours=booking.calendar.change_cutoff_hours or 0)


def why_unchangeable(booking: Booking, now: datetime | None = None) -> str | None:
    """None when the invitee may still change the booking; otherwise the reason, in words."""
    now = now or utcnow()
    if booking.status == "cancelled":
        return _("This booking has been cancelled.")
    if booking.start_at <= now:
        return _("This meeting has already started or taken place.")
    if now >= change_deadline(booking):
        hours = booking.calendar.change_cutoff_hours
        return ngettext(
            "Changes are possible until %(num)d hour before the meeting. "
            "Please reply to your confirmation email to reach the organiser.",
            "Changes are possible until %(num)d hours before the meeting. "
            "Please reply to your confirmation email to reach the organiser.",
            hours,
        )
    return None


def cancel(booking: Booking, reason: str = "", by: str = "invitee") -> None:
    """Cancel a booking and free its seat; the one-time link stays used."""
    if by == "invitee" and (problem := why_unchangeable(booking)):
        raise ChangeNotAllowed(problem)
    if booking.status == "cancelled":
        raise ChangeNotAllowed(_("This booking has already been cancelled."))
    # Bumps booking_seq like every booking change (the booking page's cache keys on it), taking
    # the calendar's lock first, in the same order as book() and reschedule().
    _lock_calendar(booking.calendar_id)
    booking.status = "cancelled"
    booking.cancelled_at = utcnow()
    booking.cancel_reason = reason.strip()[:2000]
    booking.cancelled_by = by
    _notify(booking, "cancelled")
    events.booking_cancelled.send(booking)
    db.session.commit()
    audit("booking.cancel", booking_id=booking.id, by=by)


def reschedule(booking: Booking, start: datetime) -> None:
    """Move a booking to another open slot; the one-time link is not revived."""
    if problem := why_unchangeable(booking):
        raise ChangeNotAllowed(problem)
    booking_id, calendar_id = booking.id, booking.calendar_id
    _start_transaction(calendar_id)
    booking = db.session.get_one(Booking, booking_id, populate_existing=True)
    calendar = db.session.get_one(Calendar, calendar_id, populate_existing=True)
    if booking.status != "confirmed":
        db.session.rollback()
        raise ChangeNotAllowed(_("This booking has been cancelled."))
    slot = slot_at(calendar, start, exclude_booking_id=booking_id)
    if slot is None:
        db.session.rollback()
        raise SlotUnavailable(_("Sorry, that time was just taken or is no longer available. Please pick another."))
    previous = booking.start_at
    booking.start_at, booking.end_at = slot.start, slot.end
    booking.rescheduled_at = utcnow()
    _notify(booking, "rescheduled", previous=previous)
    events.booking_rescheduled.send(booking)
    db.session.commit()
    audit("booking.reschedule", booking_id=booking_id)


def set_attendance(booking: Booking, attendance: str | None) -> None:
    """Mark a past booking showed or no-show (None clears it)."""
    if attendance not in (None, "showed", "no_show"):
        raise BookingError("Attendance is showed or no_show.")
    if booking.status == "cancelled":
        raise ChangeNotAllowed("A cancelled booking has no attendance.")
    if booking.start_at > utcnow():
        raise ChangeNotAllowed("Attendance can be marked once the meeting has started.")
    before = booking.attendance
    changed = before != attendance
    booking.attendance = attendance
    counts.booking_attendance(booking, before, attendance)
    if changed and attendance:
        events.booking_attendance_marked.send(booking, attendance=attendance)
    db.session.commit()
    audit("booking.attendance", booking_id=booking.id, attendance=attendance)


def resend_confirmation(booking: Booking) -> None:
    """Queue the confirmation again, to the address on file (never one typed on the page)."""
    _invitee_mail(booking, "resent")
    db.session.commit()
    audit("booking.resend", booking_id=booking.id)


def mask_email(email: str) -> str:
    """a***@e***.com: enough to recognise one's own address, not to learn someone else's."""
    local, _, domain = email.partition("@")
    name, dot, tld = domain.rpartition(".")
    masked_domain = f"{name[:1]}***{dot}{tld}" if name else f"{tld[:1]}***"
    return f"{local[:1]}***@{masked_domain}"


def _admin_addresses(calendar: Calendar) -> list[str]:
    if calendar.notify_email:
        return [calendar.notify_email]
    return list(db.session.scalars(select(User.email).order_by(User.id)))


def _context(booking: Booking, event: str, **extra) -> dict:
    return {
        "booking": booking,
        "calendar": db.session.get(Calendar, booking.calendar_id),
        "event": event,
        "manage_url": tokens.LinkRef(MANAGE, booking.id),
        **extra,
    }


SUBJECTS = {
    "confirmed": "Confirmed: {calendar} on {when}",
    "resent": "Your booking: {calendar} on {when}",
    "rescheduled": "Moved: {calendar} is now on {when}",
    "cancelled": "Cancelled: {calendar} on {when}",
}

# The invitee's subjects, in their language (rendered under i18n.mail_locale()).
INVITEE_SUBJECTS = {
    "confirmed": _l("Confirmed: %(calendar)s on %(when)s"),
    "resent": _l("Your booking: %(calendar)s on %(when)s"),
    "rescheduled": _l("Moved: %(calendar)s is now on %(when)s"),
    "cancelled": _l("Cancelled: %(calendar)s on %(when)s"),
}


def _subject(booking: Booking, event: str, zone: str) -> str:
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    when = format_datetime(booking.start_at, zone, "%a %d %b %Y, %H:%M")
    # one_line: a name saved before names were checked must not make every booking on it fail.
    return SUBJECTS[event].format(calendar=one_line(calendar.name), when=when)


def _invitee_extras(booking: Booking) -> dict:
    """What only the invitee's mail shows: the add-to-Google-Calendar link and the organiser's name
    (the sender's display name, as the .ics names the organiser)."""
    name, _address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    return {"google_url": ics.google_calendar_url(booking), "organiser": one_line(name)}


def _invitee_subject(booking: Booking, event: str) -> str:
    """The subject in the current (the invitee's) locale, the time in their zone and clock."""
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    when = i18n.format_datetime(booking.start_at, booking.timezone, "medium")
    return str(INVITEE_SUBJECTS[event]) % {"calendar": one_line(calendar.name), "when": when}


def _invitee_mail(booking: Booking, event: str, **extra) -> None:
    attachments = []
    if event != "cancelled":
        attachments.append(
            {"filename": "invite.ics", "mimetype": "text/calendar", "content": ics.for_booking(booking).decode()}
        )
    with i18n.mail_locale(booking.locale):
        queue_email(
            booking.email,
            _invitee_subject(booking, event),
            "booking_invitee",
            _context(booking, event, **{**_invitee_extras(booking), **extra}),
            attachments=attachments,
            kind=f"booking_{event}",
            booking_id=booking.id,
        )


def _tell_contact(booking: Booking, contact: Contact) -> None:
    """Tell the contact a link made for them was used with another address (no manage link: not theirs)."""
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    # The contact opened their link on the page the booking was made on: its locale is theirs too.
    with i18n.mail_locale(booking.locale):
        when = i18n.format_datetime(booking.start_at, calendar.timezone, "medium")
        subject = _("Your booking link was used: %(calendar)s on %(when)s", calendar=one_line(calendar.name), when=when)
        queue_email(
            contact.email,
            subject,
            "booking_link_used",
            {"booking": booking, "calendar": calendar, "contact": contact, **_invitee_extras(booking)},
            kind="booking_link_used",
            booking_id=booking.id,
        )


def _notify(booking: Booking, event: str, **extra) -> None:
    """Queue the invitee's message and the organisers' notification, in the caller's transaction."""
    _invitee_mail(booking, event, **extra)
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    # Admins read English, whatever page the change was made on.
    with i18n.mail_locale(None):
        _notify_admins(booking, event, calendar, **extra)


def _notify_admins(booking: Booking, event: str, calendar: Calendar, **extra) -> None:
    for address in _admin_addresses(calendar):
        queue_email(
            address,
            f"[OneSlot] {one_line(booking.name)}: " + _subject(booking, event, calendar.timezone),
            "booking_admin",
            _context(booking, event, **extra),
            kind=f"admin_{event}",
            booking_id=booking.id,
        )


def _salts_of(booking_ids: list[int]) -> dict[int, tuple[str, str]]:
    query = select(Booking.id, Booking.manage_salt, Booking.manage_digest).where(Booking.id.in_(booking_ids))
    return {row.id: (row.manage_salt, row.manage_digest) for row in db.session.execute(query)}


GONE = "(This booking no longer exists.)"
tokens.register(MANAGE, "/booking/", _salts_of, GONE)
