"""Calendar changes and the slot preview, shared by the pages, the API and the CLI."""

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from webapp.audit import audit
from webapp.calendars.availability import FIRST_DAY, LAST_DAY, Rules, Slot, open_slots, slots_by_day
from webapp.calendars.hosted import host_times
from webapp.calendars.models import AvailabilityRange, Calendar, DateOverride
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.hosts import services as hosts
from webapp.hosts.models import ASSIGNMENTS, COLLECTIVE, ROUND_ROBIN, SINGLE, CalendarHost, Host

SETTINGS = (
    "name",
    "slug",
    "description",
    "location",
    "timezone",
    "duration",
    "slot_interval",
    "buffer_before",
    "buffer_after",
    "min_notice",
    "window_days",
    "max_per_day",
    "seats",
    "confirmation_message",
    "change_cutoff_hours",
    "notify_email",
    "sender_name",
    "sender_email",
    "allow_other_email",
    "rearm_on_cancel",
    "rearm_on_no_show",
    "language",
)

Weekly = Mapping[int, Iterable[tuple[int, int]]]
Overrides = Iterable[tuple[date, int | None, int | None]]
# A calendar's hosts as the page and the API give them: (host ids in order, assignment, {host_id: priority}).
HostChoice = tuple[Sequence[int], str, Mapping[int, int]]
ASSIGNMENT_LABELS = {
    SINGLE: "Single host",
    ROUND_ROBIN: "Round robin: one available host per booking",
    COLLECTIVE: "Collective: every host attends",
}


def slugify(text: str) -> str:
    """'Intro Call – Ada' -> 'intro-call-ada'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80] or "calendar"


def slug_taken(slug: str, exclude_id: int | None = None) -> bool:
    """True when another calendar already uses the slug."""
    query = select(Calendar.id).where(Calendar.slug == slug)
    if exclude_id:
        query = query.where(Calendar.id != exclude_id)
    return db.session.scalar(query) is not None


def unique_slug(name: str, exclude_id: int | None = None) -> str:
    """A free slug derived from the name (intro-call, intro-call-2, …); `exclude_id`: the calendar's own."""
    base = slugify(name)
    slug, n = base, 1
    while slug_taken(slug, exclude_id):
        n += 1
        slug = f"{base[:76]}-{n}"
    return slug


def _apply(calendar: Calendar, data: Mapping, weekly: Weekly | None, overrides: Overrides | None) -> None:
    for key in SETTINGS:
        if key in data and not (key == "slug" and not data[key]):
            setattr(calendar, key, data[key])
    if "slug" in data and not data["slug"] or not calendar.slug:
        # Left empty, it is made from the name (the calendar's own slug does not count as taken).
        with db.session.no_autoflush:
            calendar.slug = unique_slug(calendar.name or "", calendar.id)
    if weekly is not None:
        calendar.ranges = [
            AvailabilityRange(weekday=day, start_minute=start, end_minute=end)
            for day, ranges in sorted(weekly.items())
            for start, end in sorted(ranges)
        ]
    if overrides is not None:
        calendar.overrides = [
            DateOverride(day=day, start_minute=start, end_minute=end) for day, start, end in sorted(overrides, key=str)
        ]


def create_calendar(
    data: Mapping, weekly: Weekly | None = None, overrides: Overrides | None = None, hosts: HostChoice | None = None
) -> Calendar:
    """Add a calendar from validated settings (and hosts, checked with host_errors)."""
    calendar = Calendar()
    _apply(calendar, data, weekly or {}, overrides or [])
    db.session.add(calendar)
    if hosts is not None:
        set_hosts(calendar, hosts[0], hosts[1], hosts[2])
    db.session.commit()
    audit("calendar.create", calendar_id=calendar.id)
    return calendar


def update_calendar(
    calendar: Calendar, data: Mapping, weekly: Weekly | None = None, overrides=None, hosts: HostChoice | None = None
) -> None:
    """Save validated settings; weekly/overrides/hosts replace the old ones when given."""
    _apply(calendar, data, weekly, overrides)
    if hosts is not None:
        set_hosts(calendar, hosts[0], hosts[1], hosts[2])
    db.session.commit()
    audit("calendar.update", calendar_id=calendar.id)


def default_hosts(user_id: int | None = None) -> HostChoice | None:
    """What a new calendar starts with when no hosts are given: single, with the signed-in admin's host
    (else the first active admin's); None when there is no such host (the calendar has none)."""
    host_id = hosts.default_host_id(user_id)
    return ([host_id], SINGLE, {}) if host_id is not None else None


def host_errors(host_ids: Sequence[int], assignment: str, allowed: Iterable[int] = ()) -> str | None:
    """What is wrong with these hosts for this assignment, or None. `allowed`: hosts the calendar has
    already (an inactive one may stay); any other must be an active host."""
    if assignment not in ASSIGNMENTS:
        return "Choose single, round robin or collective."
    if len(set(host_ids)) != len(host_ids):
        return "A host is listed twice."
    known = set(
        db.session.scalars(
            select(Host.id).where(Host.id.in_(host_ids), Host.is_active.is_(True) | Host.id.in_(list(allowed)))
        )
    )
    if missing := [str(host_id) for host_id in host_ids if host_id not in known]:
        return f"No active host with id {', '.join(missing[:5])}."
    if assignment == SINGLE and len(host_ids) != 1:
        return "A single-host calendar needs exactly one host." if host_ids else "Choose the calendar's host."
    if not host_ids:
        return "Choose at least one host."
    return None


def calendars_of_hosts(host_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """{host_id: [(calendar_id, name), …]}: the calendars (not archived) each host hosts, by name."""
    found: dict[int, list[tuple[int, str]]] = {}
    host_ids = list(host_ids)
    if not host_ids:
        return found
    rows = db.session.execute(
        select(CalendarHost.host_id, Calendar.id, Calendar.name)
        .join(Calendar, Calendar.id == CalendarHost.calendar_id)
        .where(CalendarHost.host_id.in_(host_ids), Calendar.archived_at.is_(None))
        .order_by(Calendar.name, Calendar.id)
    )
    for host_id, calendar_id, name in rows:
        found.setdefault(host_id, []).append((calendar_id, name))
    return found


def set_active(calendar: Calendar, active: bool) -> None:
    """Open or close a calendar for new bookings (an archived one stays closed)."""
    calendar.is_active = active
    if active:
        calendar.archived_at = None
    db.session.commit()
    audit("calendar.activate" if active else "calendar.deactivate", calendar_id=calendar.id)


def delete_or_archive(calendar: Calendar) -> str:
    """Delete a calendar; one with bookings is archived instead so they keep their history."""
    calendar_id = calendar.id
    if calendar.has_bookings():
        calendar.is_active = False
        calendar.archived_at = utcnow()
        db.session.commit()
        audit("calendar.archive", calendar_id=calendar_id)
        return "archived"
    db.session.delete(calendar)
    db.session.commit()
    audit("calendar.delete", calendar_id=calendar_id)
    return "deleted"


def slots(
    calendar: Calendar,
    first_day: date,
    last_day: date,
    viewer_tz: str,
    now: datetime | None = None,
    exclude_booking_id: int | None = None,
    rules: Rules | None = None,
) -> list[Slot]:
    """Open slots of a calendar for viewer-local days first_day..last_day (none while it is closed).

    `rules` saves reading the calendar's ranges again when the caller already made them.
    """
    # Days the engine has no slots for are never read: their margins below would overflow near year 9999.
    first_day, last_day = max(first_day, FIRST_DAY), min(last_day, LAST_DAY)
    if not calendar.is_active or calendar.archived_at or last_day < first_day:
        return []
    now = now or utcnow()
    zone = ZoneInfo(viewer_tz)
    # Bookings that can touch the range, with two days of margin for buffers and zone offsets.
    start = datetime.combine(first_day - timedelta(days=2), datetime.min.time(), zone)
    end = datetime.combine(last_day + timedelta(days=3), datetime.min.time(), zone)
    busy = calendar.busy(start, end, exclude_booking_id)
    hosts = calendar.host_settings(since_for(now))
    if not hosts:
        return open_slots(rules or calendar.rules(), busy, now, first_day, last_day, viewer_tz)
    times, unassigned = host_times(calendar.id, hosts, start, end, exclude_booking_id, calendar.round_robin, now)
    return open_slots(
        rules or calendar.rules(), busy, now, first_day, last_day, viewer_tz, times, calendar.round_robin, unassigned
    )


def since_for(now: datetime) -> date:
    """The first day whose time off can still matter at `now` (a day's end in any zone is within 2 days)."""
    return (now.astimezone(UTC) - timedelta(days=2)).date()


def without_limits(rules: Rules) -> Rules:
    """An organiser's rules: every start on the slot grid of every day, from now on, with no notice,
    window, daily cap, hosts' own hours or time off; the duration, interval, buffers and seats (other
    bookings, hosts' busy time) still apply."""
    return replace(
        rules,
        weekly={weekday: ((0, 1440),) for weekday in range(7)},
        overrides={},
        min_notice=0,
        window_days=None,
        max_per_day=None,
        host_limits=False,
    )


def slot_at(
    calendar: Calendar, start: datetime, now: datetime | None = None, exclude_booking_id=None, rules=None
) -> Slot | None:
    """The open slot starting exactly at `start`, or None when it is not (or no longer) bookable.

    `rules`: other rules than the calendar's own (an organiser's, without_limits)."""
    day = start.astimezone(UTC).date()
    candidates = slots(calendar, day, day, "UTC", now, exclude_booking_id, rules)
    return next((slot for slot in candidates if slot.start == start), None)


def preview(calendar: Calendar, days: int = 7, now: datetime | None = None) -> list[tuple[date, list[Slot]]]:
    """The next `days` days in the calendar's zone, each with its open slots (possibly none)."""
    now = now or utcnow()
    today = now.astimezone(ZoneInfo(calendar.timezone)).date()
    last = today + timedelta(days=days - 1)
    grouped = slots_by_day(slots(calendar, today, last, calendar.timezone, now), calendar.timezone)
    return [(today + timedelta(days=i), grouped.get(today + timedelta(days=i), [])) for i in range(days)]


def set_hosts(calendar: Calendar, host_ids: Sequence[int], assignment: str | None = None, priorities=None) -> None:
    """Make `host_ids` the calendar's hosts, in that order, and `assignment` its mode (single needs exactly
    one host). `priorities`: {host_id: priority} for round robin. The caller commits."""
    if assignment is not None:
        if assignment not in ASSIGNMENTS:
            raise ValueError(f"unknown assignment {assignment!r}")
        calendar.assignment = assignment
    priorities = priorities or {}
    calendar.host_links = [
        CalendarHost(host_id=host_id, position=n, priority=priorities.get(host_id, 0))
        for n, host_id in enumerate(dict.fromkeys(host_ids))
    ]
    db.session.flush()
