"""Booking with a one-time link, and cancelling or moving a booking: the rules behind the public pages.

A link made for a contact books with the contact's email (never one the page posts), unless the
calendar allows invitees to book with another email; then the contact on file is told, by mail,
that their link was used and by which address. Only a link whose contact was deleted takes any address.

Consuming a link is one conditional UPDATE whose row count decides, in the same transaction that
inserts the booking. Before it, the transaction bumps the calendar's `booking_seq`: that row lock
(PostgreSQL) or write lock (SQLite) makes bookings of one calendar take turns, so the seat check
that follows sees every booking committed before it. Then it bumps the `busy_seq` of every host it
may touch, in ascending id order (assign.py): bookings of calendars that share a host take turns too,
and the slot is checked, with every host's busy time, only after those locks.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formataddr, parseaddr

from sqlalchemy import or_, select, update

from webapp import events, i18n, tokens
from webapp.audit import audit
from webapp.auth.models import User
from webapp.booking import assign, counts, history, ics, links, team
from webapp.booking.history import Actor
from webapp.booking.models import Booking, BookingChange, OneTimeLink
from webapp.calendars.models import Calendar
from webapp.calendars.services import slot_at, without_limits
from webapp.clock import utcnow
from webapp.contacts.models import Contact, normalize_email
from webapp.extensions import db
from webapp.i18n import _, _l, ngettext
from webapp.mail.outbox import queue_email
from webapp.text import one_line
from webapp.zones import format_datetime

MANAGE = "manage"
REASON_MAX = 2000  # characters of a cancellation's reason

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


def _start_transaction(calendar_id: int, booking_id: int | None = None) -> None:
    # Whatever the session did before (reads) is closed, so the lock opens a fresh transaction
    # and everything read after it is current. The hosts' locks come after the calendar's, always:
    # the calendar's hosts and (a move) the booking's own.
    db.session.commit()
    _lock_calendar(calendar_id)
    own = assign.booking_host_ids(booking_id) if booking_id is not None else []
    assign.lock({*own, *assign.calendar_host_ids(calendar_id)})


def book(link: OneTimeLink, start: datetime, invitee: Invitee, by: Actor | None = None) -> Booking:
    """Book `start` with the link: exactly once, only while the slot has a seat left, with the contact's email."""
    link_id, calendar_id, contact_id = link.id, link.calendar_id, link.contact_id
    assign.refresh(assign.calendar_host_ids(calendar_id))
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
        .returning(OneTimeLink.opened_at, OneTimeLink.booking_id, *counts.COLUMNS)
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
        link_id=link_id,
        locale=i18n.valid_locale(invitee.locale) if invitee.locale else "",
    )
    db.session.add(booking)
    db.session.flush()
    assign.attach(booking, calendar, assign.choose(calendar, slot), now)
    db.session.execute(update(OneTimeLink).where(OneTimeLink.id == link_id).values(booking_id=booking.id))
    # opened_at as the row is now: a racing first opening that committed already counted the link opened.
    # booking_id as the row was: a re-armed link's previous booking, whose attendance it no longer counts.
    counts.bump(consumed, booked=1, opened=int(consumed.opened_at is None), **counts.left_behind(consumed.booking_id))
    actor = by or Actor.invitee(invitee.name)
    history.record(booking, history.BOOKED, actor, to=booking.start_at, link_id=link_id)
    _notify(booking, "confirmed", actor)
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


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise InviteeInvalid(f"A reason is at most {REASON_MAX} characters; yours has {len(reason)}.")
    return reason


def cancel(
    booking: Booking, reason: str = "", by: Actor | str = "invitee", fresh_link: bool = False
) -> OneTimeLink | None:
    """Cancel a booking and free its seat; its one-time link books again if it was issued to (re-arm).

    `by` says who cancels (an Actor, or a kind: "invitee", "admin"); only the invitee is held to the
    calendar's change cutoff. `fresh_link`: issue a new one-time link for the same contact and calendar,
    sent in the invitee's cancellation mail (returned)."""
    actor = Actor.of(by, booking)
    if actor.kind == history.INVITEE and (problem := why_unchangeable(booking)):
        raise ChangeNotAllowed(problem)
    if booking.status == "cancelled":
        raise ChangeNotAllowed(_("This booking has already been cancelled."))
    reason = _check_reason(reason)
    contact = db.session.get(Contact, booking.contact_id) if booking.contact_id else None
    if fresh_link and contact is None:
        raise BookingError("This booking has no contact on file, so no fresh link can be sent. Nothing was changed.")
    # Bumps booking_seq like every booking change (the booking page's cache keys on it), taking
    # the calendar's lock first, in the same order as book() and reschedule().
    _lock_calendar(booking.calendar_id)
    assign.lock(assign.booking_host_ids(booking.id))
    new_link = None
    if fresh_link:
        try:
            new_link = links.issue(db.session.get_one(Calendar, booking.calendar_id), contact, source="rebook")
        except links.LinkError as exc:
            db.session.rollback()
            raise BookingError(f"{exc} Nothing was changed.") from None
    booking.status = "cancelled"
    booking.cancelled_at = utcnow()
    booking.cancel_reason = reason
    booking.cancelled_by = actor.kind
    assign.release(booking)
    booking.sequence += 1
    links.rearm(booking, links.CANCELLED)
    history.record(booking, history.CANCELLED, actor, reason=reason, fresh_link_id=new_link and new_link.id)
    extra = {"rebook_url": tokens.LinkRef(links.PURPOSE, new_link.id)} if new_link else {}
    _notify(booking, "cancelled", actor, reason=reason, **extra)
    events.booking_cancelled.send(booking)
    db.session.commit()
    audit("booking.cancel", booking_id=booking.id, by=actor.kind, fresh_link_id=new_link and new_link.id)
    return new_link


def why_admin_cannot_move(booking: Booking, now: datetime | None = None) -> str | None:
    """None when an organiser may still move the booking (no cutoff for them); otherwise why not."""
    if booking.status == "cancelled":
        return "This booking has been cancelled; a cancelled booking cannot be moved."
    if booking.start_at <= (now or utcnow()):
        return "This meeting has already started or taken place."
    return None


def reschedule(
    booking: Booking,
    start: datetime,
    by: Actor | str | None = None,
    ignore_limits: bool = False,
    timezone: str | None = None,
) -> None:
    """Move a booking to another open slot; the one-time link is not revived.

    The invitee is held to the change cutoff and the calendar's limits. An organiser (`by` an admin or
    an API key) is not held to the cutoff, and with `ignore_limits` may pick any start on the slot grid
    of any day (minimum notice, booking window, daily cap and working hours set aside); the seats and
    the other bookings (with their buffers) still decide, for everyone. `timezone`: the zone the invitee
    picked the new time in, from then on the zone their confirmation and manage page speak."""
    actor = Actor.of(by, booking)
    if actor.kind == history.INVITEE:
        problem = why_unchangeable(booking)
        ignore_limits = False
    else:
        problem = why_admin_cannot_move(booking)
    if problem:
        raise ChangeNotAllowed(problem)
    booking_id, calendar_id = booking.id, booking.calendar_id
    assign.refresh(assign.calendar_host_ids(calendar_id))
    _start_transaction(calendar_id, booking_id)
    booking = db.session.get_one(Booking, booking_id, populate_existing=True)
    calendar = db.session.get_one(Calendar, calendar_id, populate_existing=True)
    if booking.status != "confirmed":
        db.session.rollback()
        raise ChangeNotAllowed(_("This booking has been cancelled."))
    if start == booking.start_at:
        db.session.rollback()
        raise BookingError("The booking is already at that time; nothing was changed.")
    rules = without_limits(calendar.rules()) if ignore_limits else None
    slot = slot_at(calendar, start, exclude_booking_id=booking_id, rules=rules)
    if slot is None:
        db.session.rollback()
        raise SlotUnavailable(_("Sorry, that time was just taken or is no longer available. Please pick another."))
    previous = booking.start_at
    assign.move(booking, calendar, slot, utcnow())
    booking.start_at, booking.end_at = slot.start, slot.end
    booking.rescheduled_at = utcnow()
    booking.sequence += 1
    if timezone:
        booking.timezone = timezone
    history.record(
        booking, history.MOVED, actor, **{"from": previous, "to": slot.start}, ignored_limits=ignore_limits or None
    )
    _notify(booking, "rescheduled", actor, previous=previous)
    events.booking_rescheduled.send(booking)
    db.session.commit()
    audit("booking.reschedule", booking_id=booking_id, by=actor.kind)


def set_attendance(booking: Booking, attendance: str | None, by: Actor | None = None) -> None:
    """Mark a past booking showed or no-show (None clears it); `by`: who marks it (default OneSlot)."""
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
    if changed:
        history.record(booking, history.ATTENDANCE, by or Actor.system(), attendance=attendance or "cleared")
    if changed and attendance == "no_show":
        links.rearm(booking, links.NO_SHOW)
    elif changed and before == "no_show":
        links.disarm(booking)
    if changed and attendance:
        events.booking_attendance_marked.send(booking, attendance=attendance)
    db.session.commit()
    audit("booking.attendance", booking_id=booking.id, attendance=attendance)


def resend_confirmation(booking: Booking, by: Actor | str | None = None) -> None:
    """Queue what is true now, to the address on file (never one typed on the page): the booking as it
    stands, or that it was cancelled (with the CANCEL), never a confirmation of a cancelled meeting."""
    actor = Actor.of(by, booking)
    history.record(booking, history.RESENT, actor, cancelled=booking.status == "cancelled" or None)
    if booking.status == "cancelled":
        # Who acted is who cancelled (cancellation_note names them), not who asked for the copy.
        _invitee_mail(booking, "cancelled", _canceller(booking), resent=True, reason=booking.cancel_reason)
    else:
        _invitee_mail(booking, "resent", actor, resent=True)
    db.session.commit()
    audit("booking.resend", booking_id=booking.id)


def mask_email(email: str) -> str:
    """a***@e***.com: enough to recognise one's own address, not to learn someone else's."""
    local, _, domain = email.partition("@")
    name, dot, tld = domain.rpartition(".")
    masked_domain = f"{name[:1]}***{dot}{tld}" if name else f"{tld[:1]}***"
    return f"{local[:1]}***@{masked_domain}"


def _admin_addresses(calendar: Calendar, booking: Booking | None = None) -> list[str]:
    """Who hears of a booking: the calendar's notify address (else every admin), and the booking's hosts;
    each address once."""
    if calendar.notify_email:
        addresses = [calendar.notify_email]
    else:
        addresses = list(db.session.scalars(select(User.email).order_by(User.id)))
    if booking is not None:
        addresses += [host.email for host in booking.hosts if team.mailable(host)]
    seen: set[str] = set()
    unique = []
    for address in addresses:
        key = normalize_email(parseaddr(address)[1] or address)
        if key not in seen:
            seen.add(key)
            unique.append(address)
    return unique


def _canceller(booking: Booking) -> Actor:
    """Who cancelled the booking: the actor of its history's cancellation (older rows: its kind only)."""
    change = db.session.scalar(
        select(BookingChange)
        .where(BookingChange.booking_id == booking.id, BookingChange.kind == history.CANCELLED)
        .order_by(BookingChange.at.desc(), BookingChange.id.desc())
        .limit(1)
    )
    if change is None:
        return Actor.of(booking.cancelled_by or None, booking)
    return Actor(change.actor_kind, change.actor_name, change.actor_user_id, change.actor_key_id)


def cancelled_by_words(booking: Booking) -> str:
    """Who cancelled, as the invitee reads it: "you", "Sam Rivera (organiser)" or "the organiser"."""
    return _canceller(booking).for_invitee()


def cancellation_note(booking: Booking) -> str:
    """ "This booking was cancelled on <date> by <you / the organiser>.", in the invitee's zone and language."""
    when = i18n.format_datetime(booking.cancelled_at or utcnow(), booking.timezone, "medium")
    return _("This booking was cancelled on %(when)s by %(who)s.", when=when, who=cancelled_by_words(booking))


def rebook_url(booking: Booking) -> str | None:
    """For the manage page: the URL of the booking's link when it can book again (re-armed), else None."""
    link = links.rebook_link(booking) if booking.status == "cancelled" else None
    return links.url(link) if link is not None else None


def _context(booking: Booking, event: str, **extra) -> dict:
    # actor_label: who acted, as the reader says it ("you", "Sam Rivera (organiser)"); reason: the
    # cancellation's, as typed (data, never markup); rebook_url: a link to book again (a fresh link's or
    # the re-armed link's marker), or None.
    context = {
        "booking": booking,
        "calendar": db.session.get(Calendar, booking.calendar_id),
        "event": event,
        "manage_url": tokens.LinkRef(MANAGE, booking.id),
        "actor_label": "",
        "reason": "",
        "rebook_url": None,
        "resent": False,
        # Whom the meeting is with ("Sam Rivera and Ada Lovelace"; "" for a booking without hosts).
        "hosts_label": team.booking_names(booking),
        **extra,
    }
    if booking.status == "cancelled":
        context["cancellation_note"] = cancellation_note(booking)
        # A marker the message may reveal (mail never carries a working link it did not put there itself).
        link = links.rebook_link(booking) if context["rebook_url"] is None else None
        if link is not None:
            context["rebook_url"] = tokens.LinkRef(links.PURPOSE, link.id)
        context["organiser_email"] = ics.organizer(context["calendar"], booking)[1]
    return context


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
    (the sender's display name, as the .ics names the organiser: ics.organizer)."""
    name, _address = ics.organizer(db.session.get_one(Calendar, booking.calendar_id))
    return {"google_url": ics.google_calendar_url(booking), "organiser": one_line(name)}


def _sender(booking: Booking) -> dict:
    """The calendar's own sender for queue_email (empty parts fall back on the branding's, then the default)."""
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    return {"from_name": one_line(calendar.sender_name), "from_addr": calendar.sender_email}


def _reply_to(booking: Booking) -> str:
    """The invitee's replies go to the booking's host (the first, for a collective booking); "" for none."""
    host = booking.host
    return formataddr((one_line(host.name), host.email)) if host is not None and team.mailable(host) else ""


def _invitee_subject(booking: Booking, event: str) -> str:
    """The subject in the current (the invitee's) locale, the time in their zone and clock."""
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    when = i18n.format_datetime(booking.start_at, booking.timezone, "medium")
    return str(INVITEE_SUBJECTS[event]) % {"calendar": one_line(calendar.name), "when": when}


def _invitee_mail(booking: Booking, event: str, actor: Actor | None = None, **extra) -> None:
    # The iTIP message of the booking as it stands: REQUEST, or CANCEL once cancelled (sender.py writes
    # it as Google Calendar, Outlook and Apple Calendar expect).
    method = ics.method_for(booking)
    attachments = [
        {
            "filename": "invite.ics",
            "mimetype": f"text/calendar; method={method}",
            "content": ics.for_booking(booking, method).decode(),
        }
    ]
    with i18n.mail_locale(booking.locale):
        queue_email(
            booking.email,
            _invitee_subject(booking, event),
            "booking_invitee",
            _context(
                booking,
                event,
                # The invitee's own change reads "You cancelled …" in the mail itself, not "by you".
                actor_label=actor.for_invitee() if actor and actor.kind != history.INVITEE else "",
                **{**_invitee_extras(booking), **extra},
            ),
            attachments=attachments,
            kind="booking_resent" if extra.get("resent") else f"booking_{event}",
            booking_id=booking.id,
            **_sender(booking),
            reply_to=_reply_to(booking),
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
            **_sender(booking),
        )


def _notify(booking: Booking, event: str, actor: Actor, **extra) -> None:
    """Queue the invitee's message and the organisers' notification, in the caller's transaction."""
    _invitee_mail(booking, event, actor, **extra)
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    extra.pop("rebook_url", None)  # the invitee's to use; organisers' copies never carry it
    # Admins read English, whatever page the change was made on.
    with i18n.mail_locale(None):
        _notify_admins(booking, event, calendar, actor, **extra)


def _notify_admins(booking: Booking, event: str, calendar: Calendar, actor: Actor, **extra) -> None:
    acting = db.session.get(User, actor.user_id) if actor.user_id else None
    for address in _admin_addresses(calendar, booking):
        is_you = acting is not None and normalize_email(address) == normalize_email(acting.email)
        queue_email(
            address,
            f"[OneSlot] {one_line(booking.name)}: " + _subject(booking, event, calendar.timezone),
            "booking_admin",
            _context(booking, event, actor_label=actor.for_admin(is_you), **extra),
            kind=f"admin_{event}",
            booking_id=booking.id,
            **_sender(booking),
        )


def _salts_of(booking_ids: list[int]) -> dict[int, tuple[str, str]]:
    query = select(Booking.id, Booking.manage_salt, Booking.manage_digest).where(Booking.id.in_(booking_ids))
    return {row.id: (row.manage_salt, row.manage_digest) for row in db.session.execute(query)}


GONE = "(This booking no longer exists.)"
tokens.register(MANAGE, "/booking/", _salts_of, GONE)
