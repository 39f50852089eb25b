"""Bookings and the one-time links that make them."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false, select, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp import tokens
from webapp.calendars.hosted import add_host_busy_source
from webapp.calendars.models import Calendar, add_busy_source, add_usage_check
from webapp.clock import utcnow
from webapp.columns import UTCDateTime
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.hosts.models import Host
from webapp.hosts.models import add_usage_check as add_host_usage_check

STATUSES = ("active", "opened", "used", "expired", "revoked")


# The right-hand side of every booking's iCalendar UID: fixed, so a UID never depends on BASE_URL.
UID_DOMAIN = "oneslot"


def new_uid() -> str:
    """A booking's iCalendar UID: random, so unique across installs and never reused with an id."""
    return f"{uuid.uuid4()}@{UID_DOMAIN}"


def _manage_digest(context) -> str:
    """The digest of a new booking's manage token (its salt is set just before)."""
    return tokens.stored_digest(context.get_current_parameters()["manage_salt"])


class Booking(db.Model):
    """A seat taken on a calendar at one instant."""

    __tablename__ = "bookings"
    # AUTOINCREMENT: an id is never given again after a delete (a queued mail names bookings by id).
    # The bookings list's views (webapp/booking/admin.py), of every calendar or one, each a page at a time:
    # upcoming and past by start, cancelled by when, all by start.
    __table_args__ = (
        Index("ix_bookings_status_start", "status", "start_at", "id"),
        Index("ix_bookings_status_cancelled", "status", "cancelled_at", "id"),
        Index("ix_bookings_calendar_start", "calendar_id", "start_at", "id"),
        Index("ix_bookings_calendar_status_start", "calendar_id", "status", "start_at", "id"),
        Index("ix_bookings_calendar_status_cancelled", "calendar_id", "status", "cancelled_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    notes: Mapped[str] = mapped_column(Text, default="")
    # The locale of the page it was booked on ("de_DE", "en_US"; "" before there was one): the
    # invitee's mail speaks it (webapp/i18n.py, mail_locale()).
    locale: Mapped[str] = mapped_column(String(16), default="")
    status: Mapped[str] = mapped_column(String(20), default="confirmed")
    attendance: Mapped[str | None] = mapped_column(String(20))  # showed / no_show, once past
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    cancelled_by: Mapped[str] = mapped_column(String(20), default="")
    manage_salt: Mapped[str] = mapped_column(String(32), default=tokens.new_salt)
    manage_digest: Mapped[str] = mapped_column(String(64), unique=True, default=_manage_digest)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rescheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The iCalendar identity of the meeting: every invitation, move and cancellation carries the same UID,
    # with a SEQUENCE that grows by one per change the invitee's calendar must see (webapp/booking/ics.py).
    uid: Mapped[str] = mapped_column(String(255), unique=True, index=True, default=new_uid)
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The link that made the booking; it stays even once the link is re-armed and books again.
    # use_alter: one_time_links.booking_id points back here, a cycle SQLAlchemy must be told about.
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("one_time_links.id", ondelete="SET NULL", use_alter=True), index=True
    )

    calendar: Mapped[Calendar] = relationship()
    # Whom the meeting is with (BookingHost rows; the first is the assigned host).
    host_rows: Mapped[list["BookingHost"]] = relationship(
        cascade="all, delete-orphan", order_by="BookingHost.host_id", viewonly=False
    )

    @property
    def hosts(self) -> list[Host]:
        """The hosts on the booking."""
        return [row.host for row in self.host_rows]

    @property
    def host(self) -> Host | None:
        """The host the booking is with (the first, for a collective booking), or None."""
        return self.host_rows[0].host if self.host_rows else None

    @property
    def display_status(self) -> str:
        """upcoming, past, cancelled, showed or no-show."""
        if self.status == "cancelled":
            return "cancelled"
        if self.attendance:
            return self.attendance.replace("_", "-")
        return "past" if self.end_at <= utcnow() else "upcoming"


class BookingChange(db.Model):
    """One thing that happened to a booking, and who did it (webapp/booking/history.py writes them).

    Names are copied, not joined: the history still reads right after an admin or an API key is gone.
    """

    __tablename__ = "booking_changes"
    # The booking page reads one booking's history, newest first, a page at a time.
    __table_args__ = (Index("ix_booking_changes_booking", "booking_id", "at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # booked, moved, cancelled, attendance, resent
    actor_kind: Mapped[str] = mapped_column(String(20))  # invitee, admin, api, system
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_key_id: Mapped[int | None] = mapped_column(Integer)
    # {"from": iso, "to": iso, "reason": "…", "attendance": "showed", "fresh_link_id": 7, "ignored_limits": true}
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"<BookingChange {self.booking_id} {self.kind} by {self.actor_kind}>"


class BookingHost(db.Model):
    """A host on a booking (one for single and round robin, every host for collective), with the time the
    booking keeps them busy: its start and end widened by its calendar's buffers. `active` while the
    booking is confirmed; kept after a cancellation, so a booking still says whom it was with.

    The host's busy time on every calendar they host reads these rows (host_id, active, busy_end), and
    round robin counts a calendar's recent bookings per host (calendar_id, host_id, created_at)."""

    __tablename__ = "booking_hosts"
    __table_args__ = (
        Index("ix_booking_hosts_busy", "host_id", "active", "busy_end"),
        Index("ix_booking_hosts_calendar_host", "calendar_id", "host_id", "created_at"),
    )

    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"), primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"))
    busy_start: Mapped[datetime] = mapped_column(UTCDateTime)
    busy_end: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    host: Mapped[Host] = relationship(lazy="joined")


def _host_has_bookings(host_id: int) -> bool:
    return db.session.scalar(select(BookingHost.booking_id).where(BookingHost.host_id == host_id).limit(1)) is not None


# A host named on a booking is deactivated rather than deleted (hosts.services.delete_or_deactivate).
add_host_usage_check(_host_has_bookings)


def _busy(calendar_id: int, start: datetime, end: datetime, exclude_booking_id: int | None):
    """A calendar's confirmed bookings that touch [start, end): its busy time (calendars.models)."""
    query = select(Booking.start_at, Booking.end_at).where(
        Booking.calendar_id == calendar_id,
        Booking.status == "confirmed",
        Booking.end_at > start,
        Booking.start_at < end,
    )
    if exclude_booking_id is not None:
        query = query.where(Booking.id != exclude_booking_id)
    return db.session.execute(query).tuples()


def _host_busy(calendar_id: int, host_ids, start: datetime, end: datetime, exclude_booking_id: int | None, own: bool):
    """The hosts' bookings for calendars.hosted: on other calendars their buffered busy time (index
    ix_booking_hosts_busy); with `own`, this calendar's confirmed bookings by host (None: without one)."""
    if not host_ids:
        return []
    query = select(BookingHost.host_id, BookingHost.busy_start, BookingHost.busy_end).where(
        BookingHost.host_id.in_(host_ids),
        BookingHost.active.is_(True),
        BookingHost.busy_end > start,
        BookingHost.busy_start < end,
        BookingHost.calendar_id != calendar_id,
    )
    if exclude_booking_id is not None:
        query = query.where(BookingHost.booking_id != exclude_booking_id)
    rows = [(host_id, s, e, False) for host_id, s, e in db.session.execute(query)]
    if own:
        # This calendar's bookings (its index on bookings), each with its host(s), or None without one.
        query = (
            select(BookingHost.host_id, Booking.start_at, Booking.end_at)
            .select_from(Booking)
            .outerjoin(BookingHost, BookingHost.booking_id == Booking.id)
            .where(
                Booking.calendar_id == calendar_id,
                Booking.status == "confirmed",
                Booking.end_at > start,
                Booking.start_at < end,
            )
        )
        if exclude_booking_id is not None:
            query = query.where(Booking.id != exclude_booking_id)
        rows.extend((host_id, s, e, True) for host_id, s, e in db.session.execute(query))
    return rows


def _has_bookings(calendar_id: int) -> bool:
    return db.session.scalar(select(Booking.id).where(Booking.calendar_id == calendar_id).limit(1)) is not None


# Here rather than in an init_app: wherever the bookings table exists, its seats are busy time.
add_busy_source(_busy)
add_host_busy_source(_host_busy)
add_usage_check(_has_bookings)


class OneTimeLink(db.Model):
    """A personal link that books one slot on one calendar, once.

    The URL token is the salt's handle and an HMAC over it (see webapp/tokens.py); the key is never stored.
    """

    __tablename__ = "one_time_links"
    # The expiry task's query: links whose expiry passed and that it has not handled yet. AUTOINCREMENT:
    # SQLite would otherwise give a deleted link's id to the next one, and a queued mail naming it a stranger's.
    __table_args__ = (
        Index("ix_one_time_links_expiry", "expiry_handled_at", "expires_at"),
        # The links of a calendar and of a contact, newest first, a page at a time (webapp/booking/admin.py).
        Index("ix_one_time_links_calendar_created", "calendar_id", "created_at", "id"),
        Index("ix_one_time_links_contact_created", "contact_id", "created_at", "id"),
        # The dashboard's "expired unused, not replaced": a range on expires_at, then for each link an
        # EXISTS for a newer link of the same contact on the same calendar. The same index answers
        # Generate One-Time Booking Link's "active link already there?" (without one, SQLite read every
        # link of the calendar for each new link, so issuing N links cost N²).
        Index("ix_one_time_links_expires_at", "expires_at"),
        Index("ix_one_time_links_replaced", "contact_id", "calendar_id", "id"),
        # A workflow's links, newest first.
        Index("ix_one_time_links_workflow_created", "workflow_id", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    # Also the sentinel that lets many new links go in one INSERT … RETURNING on SQLite (always set, unique).
    token_digest: Mapped[str] = mapped_column(String(64), unique=True, insert_sentinel=True)
    source: Mapped[str] = mapped_column(String(40), default="admin")
    meta: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(40), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by the worker once it has seen the expiry pass (and fired "link expired" if the link was unused).
    expiry_handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"), index=True)
    # Which workflow, enrolment and step (its id in the workflow's JSON) made the link; None for a link made
    # by hand or through the API. Columns, not metadata: the metadata is the API client's own, and forgeable.
    workflow_id: Mapped[int | None] = mapped_column(ForeignKey("workflows.id", ondelete="SET NULL"))
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id", ondelete="SET NULL"), index=True)
    step_id: Mapped[str | None] = mapped_column(String(40))
    # Made by a test run: left out of every count, even once the test enrolment is gone with its contact.
    test_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Whether the link may book again after its booking is cancelled, or marked a no-show: the calendar's
    # choice (or the step's override) when the link was issued, so later calendar edits change no link.
    rearm_on_cancel: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rearm_on_no_show: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    calendar: Mapped[Calendar] = relationship()
    contact: Mapped[Contact | None] = relationship()
    booking: Mapped[Booking | None] = relationship(foreign_keys=[booking_id])

    def status_at(self, now: datetime) -> str:
        """active, opened, used, expired or revoked."""
        if self.revoked_at:
            return "revoked"
        if self.used_at:
            return "used"
        if self.expires_at and self.expires_at <= now:
            return "expired"
        return "opened" if self.opened_at else "active"

    @property
    def status(self) -> str:
        """The link's state now."""
        return self.status_at(utcnow())

    @property
    def bookable(self) -> bool:
        """True while the link can still make a booking."""
        return self.status in ("active", "opened")

    def __repr__(self) -> str:
        return f"<OneTimeLink {self.id} {self.status}>"


class LinkCount(db.Model):
    """The funnel of one workflow's links made in one UTC hour: sent, opened (or used), booked, showed
    (and marked: showed or no-show).

    Kept up to date in the transaction of each event (webapp/booking/counts.py), so the dashboard sums
    at most workflows × hours rows, whatever the number of links. workflow_id is no foreign key: a
    deleted workflow keeps its history ("Deleted workflow #N").
    """

    __tablename__ = "link_counts"
    # The dashboard's window: the hours since a moment, for every workflow.
    __table_args__ = (Index("ix_link_counts_hour", "hour"),)

    workflow_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Hours since 1970-01-01 00:00 UTC of the links' created_at: an integer reads the same on both databases.
    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    showed: Mapped[int] = mapped_column(Integer, default=0)
    # Links whose booking is marked showed or no-show: the meetings that happened and were marked, the
    # base of the "showed" rate (a meeting still ahead is neither).
    marked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<LinkCount {self.workflow_id}@{self.hour} {self.sent}/{self.opened}/{self.booked}/{self.showed}>"
