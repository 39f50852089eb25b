"""Hosts (the people a meeting is with), their own hours and time off, and the calendars they host."""

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, false, text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from webapp.clock import utcnow
from webapp.columns import UTCDateTime
from webapp.extensions import db

NAME_MAX = 120
# How a calendar gives its bookings to its hosts.
SINGLE, ROUND_ROBIN, COLLECTIVE = "single", "round_robin", "collective"
ASSIGNMENTS = (SINGLE, ROUND_ROBIN, COLLECTIVE)

# Whether anything above hosts (a booking, even cancelled) names a host decides between deleting and
# deactivating it: booking registers its check where its tables are defined (hosts may not import booking).
usage_checks: list[Callable[[int], bool]] = []


def add_usage_check(check: Callable[[int], bool]) -> None:
    """Make check(host_id) one of the things that keep a host from being deleted."""
    if check not in usage_checks:
        usage_checks.append(check)


class Host(db.Model):
    """A team member meetings are with: an admin (user_id) or someone who never signs in."""

    __tablename__ = "hosts"
    # The hosts page lists them by name, a page at a time.
    __table_args__ = (Index("ix_hosts_name_id", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    email: Mapped[str] = mapped_column(String(254))
    # The email lower-cased and trimmed: one host per address.
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The admin this host is; NULL for a host who never signs in.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    # The photo as stored (a small square JPEG or PNG, resized on upload); read only when served.
    photo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    photo_type: Mapped[str] = mapped_column(String(32), default="")
    photo_version: Mapped[int] = mapped_column(Integer, default=0)  # in the photo's URL: a new photo, a new URL
    # Off: the calendars' hours alone; on: a slot must also fall within the host's own weekly hours.
    own_hours: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Bumped by every change of the host's busy time (a booking, a move, a cancellation on any of their
    # calendars, a connected calendar's new busy time): the booking transaction's lock on the host, and
    # part of the booking page cache's key.
    busy_seq: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The secret, revocable feed of the host's bookings (webapp/tokens.py); NULL: no feed.
    feed_salt: Mapped[str | None] = mapped_column(String(32))
    feed_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    hours: Mapped[list["HostHours"]] = relationship(
        back_populates="host",
        cascade="all, delete-orphan",
        order_by="(HostHours.weekday, HostHours.start_minute)",
    )
    time_off: Mapped[list["HostTimeOff"]] = relationship(
        back_populates="host", cascade="all, delete-orphan", order_by="HostTimeOff.first_day"
    )

    def __repr__(self) -> str:
        return f"<Host {self.id} {self.email}>"


class HostHours(db.Model):
    """One range of a weekday the host works, in minutes from local midnight in the host's zone."""

    __tablename__ = "host_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)

    host: Mapped[Host] = relationship(back_populates="hours")


class HostTimeOff(db.Model):
    """Days the host is away, first to last inclusive, in the host's zone: nothing is offered with them."""

    __tablename__ = "host_time_off"
    __table_args__ = (Index("ix_host_time_off_host_last", "host_id", "last_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")

    host: Mapped[Host] = relationship(back_populates="time_off")


class CalendarHost(db.Model):
    """A host of a calendar; `priority` breaks round-robin ties (higher first), `position` orders them."""

    __tablename__ = "calendar_hosts"

    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True, index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)

    host: Mapped[Host] = relationship(lazy="joined")


# A connected calendar's kinds, and what to do with its busy time once it is stale.
CALDAV, ICS = "caldav", "ics"
KINDS = (CALDAV, ICS)
STALE_BUSY, STALE_IGNORE = "busy", "ignore"  # stale: the whole time counts as busy / its events are ignored


class Connection(db.Model):
    """A host's connected calendar: a CalDAV account (read busy time, write bookings) or an ICS feed (read).

    `secret` is the CalDAV password sealed by webapp/secretbox.py (never shown again, never logged); an
    ICS feed's URL is itself a secret (Google's "secret address") and is sealed the same way, in `secret`,
    with `url` holding only its host for display. The worker refreshes busy time when `next_sync_at` is due
    (claimed with a lease: locked_until, locked_by)."""

    __tablename__ = "host_connections"
    __table_args__ = (Index("ix_host_connections_next_sync", "next_sync_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str] = mapped_column(String(2000), default="")
    username: Mapped[str] = mapped_column(String(254), default="")
    secret: Mapped[str] = mapped_column(Text, default="")
    # CalDAV: the calendars busy time is read from ([] until chosen: every calendar found) and the one
    # bookings are written into ("" until chosen: the first found).
    read_urls: Mapped[list] = mapped_column(JSON, default=list)
    write_url: Mapped[str] = mapped_column(String(2000), default="")
    # CalDAV: the calendars the account held at the last good sync, [{"url", "name"}], for the admin to choose.
    found_calendars: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    # Failed syncs in a row: the back-off before the next attempt doubles with each (webapp/hosts/sync.py).
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, ok, error
    error: Mapped[str] = mapped_column(Text, default="")
    stale_policy: Mapped[str] = mapped_column(String(10), default=STALE_BUSY)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_sync_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BusyBlock(db.Model):
    """One busy interval read from a connected calendar (UTC), replaced as a whole at every good sync."""

    __tablename__ = "host_busy_blocks"
    __table_args__ = (Index("ix_host_busy_blocks_host_end", "host_id", "end_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("host_connections.id", ondelete="CASCADE"), index=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
