"""Bookings written into their hosts' own CalDAV calendars: a queue of event copies and the worker source.

One `calendar_event_copies` row per (booking, CalDAV connection of a host on the booking). The event
receivers below make or mark the rows due in the booking's own transaction whenever a booking is made,
moved or cancelled, so a booking can never commit without the work of copying it. The worker's
"calendar_writes" source claims due rows with a lease (webapp/claims.py), writes the booking as it then
stands (hosts/caldav_write.py: PUT while confirmed and the host still on it, DELETE otherwise) and
retries failures with back-off. `revision` counts the changes queued: a write only marks its row done
when no newer change came while it was on the wire.

Which hosts: the booking's BookingHost rows; a booking without any (made before the slot engine
assigned hosts) falls back to its calendar's hosts, unless the calendar is round robin (one of them,
unknown)."""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp import claims, events
from webapp.booking import ics
from webapp.booking.models import Booking, BookingHost
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.columns import UTCDateTime
from webapp.extensions import db
from webapp.hosts import caldav_write
from webapp.hosts.models import CALDAV, ROUND_ROBIN, Connection, Host
from webapp.mail.outbox import worker_id
from webapp.worker import stopping

logger = logging.getLogger("oneslot.calendar_writes")

PENDING, DONE, ERROR = "pending", "done", "error"  # to write (maybe retrying), written, given up
PUT, DELETE = "put", "delete"  # the event should be there / should be gone
# Seconds to wait after the 1st, 2nd, … failed attempt; after the last one the row is "error".
DEFAULT_RETRY_DELAYS = (60, 5 * 60, 30 * 60, 2 * 60 * 60, 6 * 60 * 60)
ERROR_MAX = 500
# Copies written per batch: each is a few requests to a server that may be slow (caldav_write.TIMEOUT),
# and a stop request waits for the batch.
BATCH = 10


class CalendarEventCopy(db.Model):  # type: ignore[name-defined]  # see pyproject: webapp.*.models
    """A booking's event in one host's connected CalDAV calendar: what should be there and what was written."""

    __tablename__ = "calendar_event_copies"
    __table_args__ = (
        UniqueConstraint("booking_id", "connection_id", name="uq_calendar_event_copies_booking_connection"),
        Index("ix_calendar_event_copies_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("host_connections.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(10), default=PUT)
    # Where the event was written: the calendar, the event's own URL, its ETag, UID and SEQUENCE.
    calendar_url: Mapped[str] = mapped_column(String(2000), default="")
    href: Mapped[str] = mapped_column(String(2000), default="")
    etag: Mapped[str] = mapped_column(String(200), default="")
    uid: Mapped[str] = mapped_column(String(255), default="")
    written_sequence: Mapped[int | None] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    host: Mapped[Host] = relationship(lazy="joined")
    connection: Mapped[Connection] = relationship(lazy="joined")


# --- queueing, in the booking's transaction ---------------------------------------------------------


def _host_ids(booking: Booking) -> list[int]:
    """The hosts whose calendars should show the booking now: none once it is cancelled."""
    if booking.status != "confirmed":
        return []
    rows = db.session.scalars(select(BookingHost).where(BookingHost.booking_id == booking.id)).all()
    if rows:
        return [row.host_id for row in rows if row.active]
    calendar = db.session.get_one(Calendar, booking.calendar_id)
    return [] if calendar.assignment == ROUND_ROBIN else [host.id for host in calendar.hosts]


def queue(booking: Booking) -> list[CalendarEventCopy]:
    """Make or mark due the booking's copies: written into every CalDAV connection of its hosts, removed
    from the rest. Adds to the session, never commits (an event receiver). Returns the rows due."""
    host_ids = _host_ids(booking)
    wanted = {}
    if host_ids:
        connections = db.session.execute(
            select(Connection.id, Connection.host_id).where(Connection.host_id.in_(host_ids), Connection.kind == CALDAV)
        ).all()
        wanted = {connection_id: host_id for connection_id, host_id in connections}
    existing = {
        copy.connection_id: copy
        for copy in db.session.scalars(select(CalendarEventCopy).where(CalendarEventCopy.booking_id == booking.id))
    }
    due = []
    now = utcnow()
    for connection_id, copy in existing.items():
        copy.action = PUT if connection_id in wanted else DELETE
        copy.revision = copy.revision + 1
        copy.state, copy.attempts, copy.next_attempt_at, copy.last_error = PENDING, 0, now, ""
        due.append(copy)
    for connection_id, host_id in wanted.items():
        if connection_id not in existing:
            copy = CalendarEventCopy(
                booking_id=booking.id, host_id=host_id, connection_id=connection_id, uid=booking.uid, action=PUT
            )
            db.session.add(copy)
            due.append(copy)
    return due


def on_booking_change(booking: Booking, **_kwargs) -> list[CalendarEventCopy]:
    """The receiver of booking_made, booking_rescheduled and booking_cancelled."""
    return queue(booking)


def connect() -> None:
    """Listen to the booking events (from booking's init_app)."""
    for signal in (events.booking_made, events.booking_rescheduled, events.booking_cancelled):
        signal.connect(on_booking_change)


# --- writing, in the worker ---------------------------------------------------------------------------


def _due(now: datetime):
    return (
        CalendarEventCopy.state == PENDING,
        CalendarEventCopy.next_attempt_at <= now,
        or_(CalendarEventCopy.locked_until.is_(None), CalendarEventCopy.locked_until < now),
    )


# Copies waiting to be written (/metrics): the index (state, next_attempt_at) answers it.
BACKLOG = claims.Backlog(_due, CalendarEventCopy.next_attempt_at)


def _lease(now: datetime, worker: str) -> dict:
    return {"locked_until": claims.lease_until(now), "locked_by": worker}


def admin_url(booking: Booking) -> str:
    """The absolute address of the booking's page for admins (the worker has no request to build it from)."""
    path = current_app.url_map.bind("localhost").build("bookings.show", {"booking_id": booking.id})
    return current_app.config["BASE_URL"] + path


def description(booking: Booking) -> str:
    """The event's DESCRIPTION: who booked, their notes, and where the booking is in OneSlot."""
    lines = [f"Invitee: {booking.name} <{booking.email}>"]
    if booking.notes:
        lines.append(f"Notes: {booking.notes}")
    lines.append(f"Booking: {admin_url(booking)}")
    return "\n".join(lines)


def _write(copy: CalendarEventCopy, booking: Booking, connection: Connection) -> dict:
    """Do the copy's action on the server; returns the columns that record what was written."""
    body = ics.for_host_calendar(booking, description(booking))
    if copy.action == DELETE:
        if copy.href:
            caldav_write.delete_event(connection, copy.href, body)
        return {"href": "", "etag": "", "calendar_url": "", "written_sequence": None}
    calendar_url = caldav_write.write_calendar(connection)
    etag = copy.etag
    if copy.href and copy.calendar_url != calendar_url:  # the admin chose another calendar: move it there
        caldav_write.delete_event(connection, copy.href, body)
        etag = ""
    href, etag = caldav_write.put_event(connection, calendar_url, booking.uid, body, etag)
    return {"href": href, "etag": etag, "calendar_url": calendar_url, "written_sequence": booking.sequence}


def _failed(copy: CalendarEventCopy, error: caldav_write.WriteError) -> dict:
    delays = current_app.config.get("CALENDAR_WRITE_RETRY_DELAYS", DEFAULT_RETRY_DELAYS)
    attempts = copy.attempts + 1
    if not error.retry or attempts > len(delays):
        return {"attempts": attempts, "state": ERROR, "next_attempt_at": None, "last_error": str(error)[:ERROR_MAX]}
    when = utcnow() + timedelta(seconds=delays[attempts - 1])
    return {"attempts": attempts, "next_attempt_at": when, "last_error": str(error)[:ERROR_MAX]}


def _write_one(copy_id: int, worker: str) -> None:
    """Write one claimed copy and record the outcome; commits."""
    copy = db.session.get(CalendarEventCopy, copy_id, populate_existing=True)
    if copy is None or copy.locked_by != worker or copy.state != PENDING:
        db.session.commit()
        return
    booking = db.session.get_one(Booking, copy.booking_id)
    connection = db.session.get_one(Connection, copy.connection_id)
    seen = copy.revision
    try:
        done = _write(copy, booking, connection)
    except caldav_write.WriteError as exc:
        outcome = _failed(copy, exc)
        logger.info("calendar write failed copy_id=%s attempts=%s error=%s", copy_id, outcome["attempts"], exc)
    except Exception as exc:  # a bug (building the event, the library): recorded and retried, the worker goes on
        logger.exception("calendar write broke copy_id=%s", copy_id)
        outcome = _failed(copy, caldav_write.WriteError(f"an unexpected error ({type(exc).__name__})"))
        db.session.rollback()  # if the database was what failed, the bookkeeping below starts afresh
    else:
        outcome = {**done, "attempts": 0, "last_error": "", "state": DONE, "next_attempt_at": None}
        logger.info("calendar write done copy_id=%s booking_id=%s action=%s", copy_id, booking.id, copy.action)
    db.session.commit()  # the reads end before the bookkeeping below
    unlock = {"locked_until": None, "locked_by": None}
    mine = (CalendarEventCopy.id == copy_id, CalendarEventCopy.locked_by == worker)
    result = db.session.execute(
        update(CalendarEventCopy).where(*mine, CalendarEventCopy.revision == seen).values(**outcome, **unlock),
        execution_options={"synchronize_session": False},
    )
    if not result.rowcount:  # type: ignore[attr-defined]  # DML gives a CursorResult
        # The booking changed while we wrote: keep what the server now holds, and go again (still due).
        written = {key: outcome[key] for key in ("href", "etag", "calendar_url", "written_sequence") if key in outcome}
        db.session.execute(
            update(CalendarEventCopy).where(*mine).values(**written, **unlock),
            execution_options={"synchronize_session": False},
        )
    db.session.commit()


def write_due(limit: int = BATCH) -> int:
    """The worker source "calendar_writes": claim up to `limit` due copies and write them; returns how many."""
    limit = min(limit, BATCH)
    worker = worker_id()
    now = utcnow()
    order = (CalendarEventCopy.next_attempt_at, CalendarEventCopy.id)
    ids = claims.claim(CalendarEventCopy, _due(now), order, limit, _lease(now, worker))
    for copy_id in ids:
        if stopping():  # the worker stops: it releases the rest (worker.run_once)
            break
        _write_one(copy_id, worker)
    return len(ids)


# --- the admin's booking page -----------------------------------------------------------------------


def describe(copy: CalendarEventCopy) -> str:
    """One line for the booking's page: "Added to Sam Rivera's calendar", "Couldn't add … : <error>, retrying"."""
    where = f"{copy.host.name}'s calendar"
    if copy.connection.label:
        where += f" ({copy.connection.label})"
    adding = copy.action == PUT
    if copy.state == DONE:
        return f"Added to {where}" if adding else f"Removed from {where}"
    verb = "add to" if adding else "remove from"
    if copy.last_error:
        retrying = ", retrying" if copy.state == PENDING else ""
        return f"Couldn't {verb} {where}: {copy.last_error}{retrying}"
    return f"Adding to {where}…" if adding else f"Removing from {where}…"


def copies_of(booking: Booking) -> list[CalendarEventCopy]:
    """The booking's copies with their hosts (one query), for its page."""
    return list(
        db.session.scalars(
            select(CalendarEventCopy)
            .where(CalendarEventCopy.booking_id == booking.id)
            .order_by(CalendarEventCopy.host_id, CalendarEventCopy.id)
        )
    )
