"""Bookings and the one-time links that make them."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp import tokens
from webapp.calendars.models import Calendar, add_busy_source, add_usage_check
from webapp.clock import utcnow
from webapp.columns import UTCDateTime
from webapp.contacts.models import Contact
from webapp.extensions import db

STATUSES = ("active", "opened", "used", "expired", "revoked")


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

    calendar: Mapped[Calendar] = relationship()

    @property
    def display_status(self) -> str:
        """upcoming, past, cancelled, showed or no-show."""
        if self.status == "cancelled":
            return "cancelled"
        if self.attendance:
            return self.attendance.replace("_", "-")
        return "past" if self.end_at <= utcnow() else "upcoming"


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


def _has_bookings(calendar_id: int) -> bool:
    return db.session.scalar(select(Booking.id).where(Booking.calendar_id == calendar_id).limit(1)) is not None


# Here rather than in an init_app: wherever the bookings table exists, its seats are busy time.
add_busy_source(_busy)
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
    """The funnel of one workflow's links made in one UTC hour: sent, opened (or used), booked, showed.

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

    def __repr__(self) -> str:
        return f"<LinkCount {self.workflow_id}@{self.hour} {self.sent}/{self.opened}/{self.booked}/{self.showed}>"
