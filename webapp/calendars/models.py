"""Calendars, their weekly availability and date overrides."""

from collections.abc import Callable, Iterable
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.calendars.availability import Busy, Rules
from webapp.calendars.hosted import HostSettings, read_settings
from webapp.clock import utcnow
from webapp.columns import UTCDateTime
from webapp.extensions import db
from webapp.hosts.models import ROUND_ROBIN, SINGLE, CalendarHost

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Busy time comes from the features above calendars (booking's confirmed bookings), which register a
# source at start-up: source(calendar_id, start, end, exclude_booking_id) -> the (start, end) pairs
# that touch [start, end). A usage check answers whether anything (a booking, even cancelled) refers
# to a calendar, which decides between deleting and archiving it.
BusySource = Callable[[int, datetime, datetime, int | None], Iterable[tuple[datetime, datetime]]]
_busy_sources: list[BusySource] = []
_usage_checks: list[Callable[[int], bool]] = []


def add_busy_source(source: BusySource) -> None:
    """Make source's busy time part of every calendar's (once, however many apps are built)."""
    if source not in _busy_sources:
        _busy_sources.append(source)


def add_usage_check(check: Callable[[int], bool]) -> None:
    """Make check(calendar_id) one of the things that keep a calendar from being deleted."""
    if check not in _usage_checks:
        _usage_checks.append(check)


class Calendar(db.Model):
    """A bookable calendar: when it is open, for how long, and its limits."""

    __tablename__ = "calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(500), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    duration: Mapped[int] = mapped_column(Integer, default=30)
    slot_interval: Mapped[int | None] = mapped_column(Integer)
    buffer_before: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after: Mapped[int] = mapped_column(Integer, default=0)
    min_notice: Mapped[int] = mapped_column(Integer, default=0)
    window_days: Mapped[int | None] = mapped_column(Integer)
    max_per_day: Mapped[int | None] = mapped_column(Integer)
    seats: Mapped[int] = mapped_column(Integer, default=1)
    confirmation_message: Mapped[str] = mapped_column(Text, default="")
    change_cutoff_hours: Mapped[int] = mapped_column(Integer, default=0)
    notify_email: Mapped[str] = mapped_column(String(254), default="")
    # Whom this calendar's mail is from, before the branding's default sender ("" = the branding's).
    sender_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    sender_email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    # Off: a link made for a contact books with the contact's email, whatever the page posts.
    allow_other_email: Mapped[bool] = mapped_column(Boolean, default=False)
    # Re-arm: after a cancellation / a no-show, the same one-time link may book again. Links copy these
    # when issued (webapp/booking/links.py).
    rearm_on_cancel: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rearm_on_no_show: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The booking pages' language when the invitee's browser asks for none we speak ("" = English).
    language: Mapped[str] = mapped_column(String(8), default="")
    # How bookings go to the hosts (webapp/hosts/models.py): single, round_robin or collective.
    assignment: Mapped[str] = mapped_column(String(20), default=SINGLE, server_default=SINGLE)
    # Bumped by every booking change: the UPDATE's row lock serialises bookings of one calendar.
    booking_seq: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Made by `flask seed-demo` (webapp/workflows/demo.py): not the admin's own (the first-run checklist).
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    ranges: Mapped[list["AvailabilityRange"]] = relationship(
        back_populates="calendar",
        cascade="all, delete-orphan",
        order_by="(AvailabilityRange.weekday, AvailabilityRange.start_minute)",
    )
    # Its hosts, in the admin's order (CalendarHost.position).
    host_links: Mapped[list[CalendarHost]] = relationship(
        cascade="all, delete-orphan", order_by="(CalendarHost.position, CalendarHost.host_id)"
    )
    overrides: Mapped[list["DateOverride"]] = relationship(
        back_populates="calendar",
        cascade="all, delete-orphan",
        order_by="(DateOverride.day, DateOverride.start_minute)",
    )

    @property
    def status(self) -> str:
        """archived, inactive or active."""
        if self.archived_at:
            return "archived"
        return "active" if self.is_active else "inactive"

    def rules(self, range_rows=None, override_rows=None) -> Rules:
        """The calendar's settings as input for the availability engine.

        range_rows (weekday, start, end) and override_rows (day, start, end) stand in for the
        relationships when the caller has read them itself (the booking page's cache does).
        """
        if range_rows is None:
            range_rows = [(r.weekday, r.start_minute, r.end_minute) for r in self.ranges]
        if override_rows is None:
            override_rows = [(o.day, o.start_minute, o.end_minute) for o in self.overrides]
        weekly: dict[int, list[tuple[int, int]]] = {}
        for weekday, start, end in range_rows:
            weekly.setdefault(weekday, []).append((start, end))
        overrides: dict[date, list[tuple[int, int]]] = {}
        for day, start, end in override_rows:
            hours = overrides.setdefault(day, [])
            if start is not None:  # no start: closed all day (DateOverride.closed)
                hours.append((start, end))
        return Rules(
            timezone=self.timezone,
            duration=self.duration,
            interval=self.slot_interval,
            weekly=weekly,
            overrides=overrides,
            buffer_before=self.buffer_before,
            buffer_after=self.buffer_after,
            min_notice=self.min_notice,
            window_days=self.window_days,
            max_per_day=self.max_per_day,
            seats=self.seats,
        )

    @property
    def hosts(self) -> list:
        """Its hosts (Host rows), in the admin's order."""
        return [link.host for link in self.host_links]

    @property
    def round_robin(self) -> bool:
        """True when a booking goes to one free host among several (assignment round_robin)."""
        return self.assignment == ROUND_ROBIN

    def host_settings(self, since: date) -> tuple[HostSettings, ...]:
        """Its hosts as the slot engine reads them (time off ending before `since` left out), fresh."""
        return read_settings(self.id, since)

    def busy(self, start: datetime, end: datetime, exclude_booking_id: int | None = None) -> list[Busy]:
        """What keeps slots in [start, end) from being offered, for the availability engine: every
        registered busy source's (confirmed bookings)."""
        return [Busy(s, e) for source in _busy_sources for s, e in source(self.id, start, end, exclude_booking_id)]

    def has_bookings(self) -> bool:
        """True once anything refers to this calendar (a booking, even a cancelled one)."""
        return any(check(self.id) for check in _usage_checks)

    def __repr__(self) -> str:
        return f"<Calendar {self.id} {self.slug}>"


class AvailabilityRange(db.Model):
    """One open range of a weekday, in minutes from local midnight (1440 = 24:00)."""

    __tablename__ = "availability_ranges"

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)

    calendar: Mapped[Calendar] = relationship(back_populates="ranges")


class DateOverride(db.Model):
    """A date whose hours replace the weekly ones; no minutes means closed all day."""

    __tablename__ = "date_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    start_minute: Mapped[int | None] = mapped_column(Integer)
    end_minute: Mapped[int | None] = mapped_column(Integer)

    calendar: Mapped[Calendar] = relationship(back_populates="overrides")

    @property
    def closed(self) -> bool:
        """True when the whole date is closed."""
        return self.start_minute is None
