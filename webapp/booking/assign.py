"""Which hosts a booking is with, and their locks: the host side of book(), reschedule() and cancel().

Locks. A booking transaction takes its calendar's lock (booking_seq) and then, in ascending id order,
every host it may touch: `UPDATE hosts SET busy_seq = busy_seq + 1`, one row at a time. The row lock
(PostgreSQL) or the write lock (SQLite) makes bookings of two calendars that share a host take turns,
the one order everywhere keeps them from deadlocking, and the bump changes the booking page cache's key
of every calendar those hosts are on (cache.CalendarState.hosts).

Assignment. single and collective: the calendar's hosts, all of them free (the slot is open only then).
Round robin: among the hosts free at the slot (Slot.host_ids), the one with the fewest confirmed bookings
on this calendar made in the last 30 days, then the higher CalendarHost.priority, then the one booked
least recently on this calendar (never first), then the lower position."""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from webapp.booking.models import Booking, BookingHost
from webapp.calendars.availability import Slot
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.hosts import busy
from webapp.hosts.models import CalendarHost, Host

FAIRNESS_DAYS = 30


def calendar_host_ids(calendar_id: int) -> list[int]:
    """The calendar's hosts' ids, in its order."""
    query = select(CalendarHost.host_id).where(CalendarHost.calendar_id == calendar_id)
    return list(db.session.scalars(query.order_by(CalendarHost.position, CalendarHost.host_id)))


def booking_host_ids(booking_id: int) -> list[int]:
    """The hosts on a booking (active or not)."""
    return list(db.session.scalars(select(BookingHost.host_id).where(BookingHost.booking_id == booking_id)))


def refresh(host_ids: Iterable[int]) -> None:
    """Before the transaction: re-read the hosts' connected calendars whose busy time is older than a minute."""
    ids = list(host_ids)
    if ids:
        busy.refresh_if_older(ids)


def lock(host_ids: Iterable[int]) -> None:
    """Take the hosts' locks (bump busy_seq), in ascending id order. After the calendar's lock."""
    for host_id in sorted(set(host_ids)):
        db.session.execute(update(Host).where(Host.id == host_id).values(busy_seq=Host.busy_seq + 1))


def choose(calendar: Calendar, slot: Slot) -> list[int]:
    """The hosts a new booking in `slot` is with (empty for a calendar without hosts)."""
    if not slot.host_ids:
        return []
    if not calendar.round_robin:
        return list(slot.host_ids)
    return [pick(calendar.id, slot.host_ids)]


def pick(calendar_id: int, candidates: Sequence[int], now: datetime | None = None) -> int:
    """Round robin's choice among free hosts (the module's docstring), one query."""
    since = (now or utcnow()) - timedelta(days=FAIRNESS_DAYS)
    mine = (BookingHost.calendar_id == calendar_id, BookingHost.host_id == CalendarHost.host_id)
    # Correlated per host, each bounded by ix_booking_hosts_calendar_host (calendar_id, host_id, created_at).
    recent = (
        select(func.count())
        .where(*mine, BookingHost.created_at >= since, BookingHost.active.is_(True))
        .scalar_subquery()
    )
    last = select(func.max(BookingHost.created_at)).where(*mine).scalar_subquery()
    rows = db.session.execute(
        select(CalendarHost.host_id, CalendarHost.priority, CalendarHost.position, recent, last).where(
            CalendarHost.calendar_id == calendar_id, CalendarHost.host_id.in_(candidates)
        )
    ).all()
    if not rows:  # the hosts changed under the slot: keep the engine's first free host
        return candidates[0]
    never = datetime.min

    def order(row):
        host_id, priority, position, count, latest = row
        return (count, -priority, (latest.replace(tzinfo=None) if latest else never), position, host_id)

    return min(rows, key=order)[0]


def attach(booking: Booking, calendar: Calendar, host_ids: Sequence[int], now: datetime) -> None:
    """Put the hosts on a new booking, busy for its time widened by the calendar's buffers. Through the
    relationship, so whatever reads booking.hosts before the commit (its mail, event receivers) sees them."""
    start, end = widened(calendar, booking.start_at, booking.end_at)
    for host_id in host_ids:
        booking.host_rows.append(_row(calendar, host_id, start, end, now))


def move(booking: Booking, calendar: Calendar, slot: Slot, now: datetime) -> None:
    """A moved booking's hosts: the same ones while they are free at the new time (and still the calendar's
    choice), else (round robin) another free host by the same rule; their busy time follows the booking."""
    current = sorted(row.host_id for row in booking.host_rows)
    if not slot.host_ids:
        keep = current  # a calendar without hosts (now): the booking keeps whom it was with
    elif calendar.round_robin:
        kept = [host_id for host_id in current if host_id in slot.host_ids]
        keep = kept[:1] or [pick(calendar.id, slot.host_ids, now)]
    else:
        keep = sorted(slot.host_ids)
    start, end = widened(calendar, slot.start, slot.end)
    for row in list(booking.host_rows):
        if row.host_id in keep:
            row.busy_start, row.busy_end = start, end
        else:
            booking.host_rows.remove(row)  # delete-orphan: the row goes
    for host_id in keep:
        if host_id not in current:
            booking.host_rows.append(_row(calendar, host_id, start, end, now))


def release(booking: Booking) -> None:
    """A cancelled booking keeps its hosts on record but no longer keeps them busy."""
    for row in booking.host_rows:
        row.active = False


def _row(calendar: Calendar, host_id: int, start: datetime, end: datetime, now: datetime) -> BookingHost:
    # The host itself, not only its id: the booking's mail, written before the flush, names it.
    return BookingHost(
        host_id=host_id,
        host=db.session.get_one(Host, host_id),
        calendar_id=calendar.id,
        busy_start=start,
        busy_end=end,
        active=True,
        created_at=now,
    )


def widened(calendar: Calendar, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The time a booking keeps its hosts busy: its own, with the calendar's buffers around it."""
    return start - timedelta(minutes=calendar.buffer_before), end + timedelta(minutes=calendar.buffer_after)
