"""A small in-process cache for the public booking pages: computed pickers and their HTML.

Every gunicorn worker keeps its own (one per app, in app.extensions). Nothing in it is ever
invalidated: an entry's key holds everything its value depends on, read fresh from the database
on each request, so a change simply leads to other keys, and old entries fall out of the LRU.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import String, bindparam, case, cast, func, select

from webapp import tokens
from webapp.booking import links
from webapp.booking.models import OneTimeLink
from webapp.calendars.availability import Busy, Rules
from webapp.calendars.hosted import HostSettings, settings
from webapp.calendars.models import AvailabilityRange, Calendar, DateOverride
from webapp.calendars.services import since_for
from webapp.clock import utcnow
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.hosts.models import ROUND_ROBIN, CalendarHost, Host, HostHours, HostTimeOff

MAX_ENTRIES = 256


class LRU:
    """A thread-safe, size-bounded mapping that forgets the least recently used key first."""

    def __init__(self, size: int = MAX_ENTRIES):
        self.size = size
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def store() -> LRU:
    """The current app's cache (tests make many apps, each on its own database)."""
    cache = current_app.extensions.get("booking_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("booking_cache", LRU())
    return cache


@dataclass(frozen=True)
class CalendarState:
    """Everything a calendar's open slots depend on, besides the time and the viewer: a cache key.

    Read from the database on every request (read_state, or with the link in link_page), never
    from the session's identity map. booking_seq stands for the bookings: it is bumped in the
    transaction of every booking, move and cancellation (webapp/booking/services.py), so a path
    that changes bookings without it would leave pickers stale for up to a minute. The weekly
    ranges and date overrides are held by value: replacing them on save does not touch the
    calendar row (nor its updated_at).

    It has the Calendar attributes and methods services.slots() uses, so slots are computed from
    this very snapshot: an entry is never stored under a key read from other data than its own.
    """

    id: int
    booking_seq: int
    updated_at: datetime
    is_active: bool
    archived_at: datetime | None
    timezone: str
    duration: int
    slot_interval: int | None
    buffer_before: int
    buffer_after: int
    min_notice: int
    window_days: int | None
    max_per_day: int | None
    seats: int
    assignment: str
    ranges: tuple[tuple[int, int, int], ...]  # (weekday, start_minute, end_minute)
    overrides: tuple[tuple[date, int | None, int | None], ...]  # (day, start_minute, end_minute)
    # Its hosts (id, busy_seq, zone, own hours, time off from `since` on): busy_seq stands for their
    # busy time on every calendar and connected calendar, as booking_seq does for this calendar's.
    hosts: tuple[HostSettings, ...] = ()

    @property
    def round_robin(self) -> bool:
        return self.assignment == ROUND_ROBIN

    def host_settings(self, since: date) -> tuple[HostSettings, ...]:
        """Calendar.host_settings() of this snapshot (read with the time off ending from 2 days ago on)."""
        return self.hosts

    def rules(self) -> Rules:
        """Calendar.rules() of this snapshot."""
        return Calendar.rules(self, self.ranges, self.overrides)  # type: ignore[arg-type]  # a CalendarState is read as a Calendar (duck-typed)

    def busy(self, start: datetime, end: datetime, exclude_booking_id: int | None = None) -> list[Busy]:
        """Calendar.busy(): the bookings are read when slots are computed (a miss), not cached here."""
        return Calendar.busy(self, start, end, exclude_booking_id)  # type: ignore[arg-type]  # a CalendarState is read as a Calendar (duck-typed)


SETTINGS = (
    "id",
    "booking_seq",
    "updated_at",
    "is_active",
    "archived_at",
    "timezone",
    "duration",
    "slot_interval",
    "buffer_before",
    "buffer_after",
    "min_notice",
    "window_days",
    "max_per_day",
    "seats",
    "assignment",
)


def _text(column):
    return cast(column, String)


def _hours(calendar_id):
    """A calendar's weekly ranges and date overrides, each as one string (scalar subqueries).

    'weekday,start,end;…' and 'day,start,end;…' (no minutes: closed): one row per calendar instead
    of one per range, in any order (_state sorts them).
    """
    ranges = (
        select(
            func.aggregate_strings(
                _text(AvailabilityRange.weekday)
                + ","
                + _text(AvailabilityRange.start_minute)
                + ","
                + _text(AvailabilityRange.end_minute),
                ";",
            )
        )
        .where(AvailabilityRange.calendar_id == calendar_id)
        .scalar_subquery()
    )
    overrides = (
        select(
            func.aggregate_strings(
                _text(DateOverride.day)
                + ","
                + func.coalesce(_text(DateOverride.start_minute), "")
                + ","
                + func.coalesce(_text(DateOverride.end_minute), ""),
                ";",
            )
        )
        .where(DateOverride.calendar_id == calendar_id)
        .scalar_subquery()
    )
    return ranges.label("ranges"), overrides.label("overrides")


def _hosts(calendar_id):
    """A calendar's hosts, their own hours and their time off from :since on, each as one string
    (scalar subqueries, like _hours): 'id,busy_seq,own_hours,zone;…', 'id,weekday,start,end;…' (hosts
    with own hours only) and 'id,first_day,last_day;…'."""
    # Each a join with calendar_hosts, one level under the outer query: a subquery nested deeper (an IN
    # of its own) would not correlate with the outer calendar and read every calendar's hosts.
    mine = CalendarHost.calendar_id == calendar_id
    hosts = (
        select(
            func.aggregate_strings(
                _text(Host.id)
                + ","
                + _text(Host.busy_seq)
                + ","
                + case((Host.own_hours, "1"), else_="0")
                + ","
                + Host.timezone,
                ";",
            )
        )
        .join(CalendarHost, CalendarHost.host_id == Host.id)
        .where(mine)
        .scalar_subquery()
    )
    hours = (
        select(
            func.aggregate_strings(
                _text(HostHours.host_id)
                + ","
                + _text(HostHours.weekday)
                + ","
                + _text(HostHours.start_minute)
                + ","
                + _text(HostHours.end_minute),
                ";",
            )
        )
        .join(Host, Host.id == HostHours.host_id)
        .join(CalendarHost, CalendarHost.host_id == HostHours.host_id)
        .where(mine, Host.own_hours)
        .scalar_subquery()
    )
    time_off = (
        select(
            func.aggregate_strings(
                _text(HostTimeOff.host_id) + "," + _text(HostTimeOff.first_day) + "," + _text(HostTimeOff.last_day),
                ";",
            )
        )
        .join(CalendarHost, CalendarHost.host_id == HostTimeOff.host_id)
        .where(mine, HostTimeOff.last_day >= bindparam("since"))
        .scalar_subquery()
    )
    # The order: the calendar's (position), which no aggregate keeps; a separate small string.
    order = (
        select(func.aggregate_strings(_text(CalendarHost.host_id) + ":" + _text(CalendarHost.position), ";"))
        .where(CalendarHost.calendar_id == calendar_id)
        .scalar_subquery()
    )
    return hosts.label("hosts"), hours.label("host_hours"), time_off.label("time_off"), order.label("host_order")


def _host_state(hosts_text, hours_text, off_text, order_text) -> tuple[HostSettings, ...]:
    if not hosts_text:
        return ()
    hours: dict[int, list] = {}
    for part in hours_text.split(";") if hours_text else ():
        host_id, weekday, start, end = (int(n) for n in part.split(","))
        hours.setdefault(host_id, []).append((weekday, start, end))
    off: dict[int, list] = {}
    for part in off_text.split(";") if off_text else ():
        host_id, first, last = part.split(",")
        off.setdefault(int(host_id), []).append((_day(first), _day(last)))
    position = {}
    for part in order_text.split(";") if order_text else ():
        host_id, at = part.split(":")
        position[int(host_id)] = (int(at), int(host_id))
    found = []
    for part in hosts_text.split(";"):
        host_id, seq, own, zone = part.split(",", 3)
        found.append(
            settings(int(host_id), int(seq), zone, own == "1", hours.get(int(host_id), ()), off.get(int(host_id), ()))
        )
    found.sort(key=lambda host: position.get(host.id, (0, host.id)))
    return tuple(found)


def _day(text: str) -> date:
    return date.fromisoformat(text[:10])  # a DATE cast to text; SQLite may keep a time part


def _minute(text: str) -> int | None:
    return int(text) if text else None


def _state(row) -> CalendarState:
    """A CalendarState from a row that starts with the SETTINGS columns, the two _hours() and four _hosts() strings."""
    n = len(SETTINGS)
    range_text, override_text = row[n], row[n + 1]
    ranges = sorted(tuple(int(m) for m in part.split(",")) for part in range_text.split(";")) if range_text else []
    overrides = []
    for part in override_text.split(";") if override_text else ():
        day, start, end = part.split(",")
        overrides.append((date.fromisoformat(day), _minute(start), _minute(end)))
    # Ordered as the relationships are, (weekday, start) and (day, start), a closed day first.
    overrides.sort(key=lambda o: (o[0], o[1] is not None, o[1] or 0))
    hosts = _host_state(*row[n + 2 : n + 6])
    return CalendarState(*row[:n], ranges=tuple(ranges), overrides=tuple(overrides), hosts=hosts)  # type: ignore[misc, arg-type]  # row[:n]: the columns before ranges


_calendars = Calendar.__table__
_STATE_COLUMNS = (*(_calendars.c[name] for name in SETTINGS), *_hours(_calendars.c.id), *_hosts(_calendars.c.id))
STATE_QUERY = select(*_STATE_COLUMNS).where(_calendars.c.id == bindparam("calendar_id"))


def _execute(statement, params):
    """Core, on the session's connection (and transaction), without the ORM's execution overhead."""
    if db.session.autoflush:
        db.session.flush()  # as session.execute() would; a no-op unless something is pending
    return db.session.connection().execute(statement, params)


def _since() -> date:
    """Time off that ended before this day cannot touch a slot from now on (services.since_for)."""
    return since_for(utcnow())


def read_state(calendar_id: int) -> CalendarState | None:
    """The calendar's state, fresh from the database, in one query."""
    row = _execute(STATE_QUERY, {"calendar_id": calendar_id, "since": _since()}).first()
    return _state(row) if row else None


@dataclass(frozen=True)
class LinkPage:
    """What the booking page needs of a link, its calendar and its contact: one query (link_page)."""

    bookable: bool
    opened: bool
    calendar: CalendarState
    name: str  # the calendar's, then what the page shows of it
    duration: int
    location: str
    description: str
    allow_other_email: bool
    language: str  # the calendar's default language for its pages ("" = none)
    assignment: str  # how the calendar gives bookings to its hosts (team.py reads the hosts)
    has_contact: bool
    contact_name: str  # first and last name, never the email (the page may not show it)
    contact_email: str


LINK_PAGE_QUERY = (
    select(
        *_STATE_COLUMNS,  # first, for _state()
        OneTimeLink.opened_at,
        OneTimeLink.used_at,
        OneTimeLink.revoked_at,
        OneTimeLink.expires_at,
        OneTimeLink.contact_id,
        OneTimeLink.salt,
        _calendars.c.name,
        _calendars.c.location,
        _calendars.c.description,
        _calendars.c.allow_other_email,
        _calendars.c.language,
        _calendars.c.assignment,
        Contact.first_name,
        Contact.last_name,
        Contact.email,
    )
    .select_from(OneTimeLink)
    .join(_calendars, _calendars.c.id == OneTimeLink.calendar_id)
    .outerjoin(Contact, Contact.id == OneTimeLink.contact_id)
    .where(OneTimeLink.token_digest == bindparam("digest"))
)


def link_page(token: str) -> LinkPage | None:
    """The booking page's data for a token, fresh from the database; None for an unknown token.

    The same rules as the models: OneTimeLink.status_at() and Contact.full_name, applied to the row.
    """
    digest = tokens.lookup_digest(token or "")
    if digest is None:
        return None
    row = _execute(LINK_PAGE_QUERY, {"digest": digest, "since": _since()}).first()
    if row is None or not tokens.verify(links.PURPOSE, token, row.salt):
        return None
    status = OneTimeLink.status_at(row, utcnow())
    has_contact = row.email is not None  # the outer join found the contact (contacts.email is NOT NULL)
    contact = (Contact.full_name.fget(row), row.email) if has_contact else ("", "")  # type: ignore[attr-defined]  # a property, read off the class
    return LinkPage(
        bookable=status in ("active", "opened"),
        opened=row.opened_at is not None,
        calendar=_state(row),
        name=row.name,
        duration=row.duration,
        location=row.location,
        description=row.description,
        allow_other_email=bool(row.allow_other_email),
        language=row.language or "",
        assignment=row.assignment,
        has_contact=has_contact,
        contact_name=contact[0],
        contact_email=contact[1],
    )
