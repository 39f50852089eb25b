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
from webapp.calendars.models import AvailabilityRange, Calendar, DateOverride
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.hosts.models import ASSIGNMENTS, CalendarHost

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


def create_calendar(data: Mapping, weekly: Weekly | None = None, overrides: Overrides | None = None) -> Calendar:
    """Add a calendar from validated settings."""
    calendar = Calendar()
    _apply(calendar, data, weekly or {}, overrides or [])
    db.session.add(calendar)
    db.session.commit()
    audit("calendar.create", calendar_id=calendar.id)
    return calendar


def update_calendar(calendar: Calendar, data: Mapping, weekly: Weekly | None = None, overrides=None) -> None:
    """Save validated settings; weekly/overrides replace the old ones when given."""
    _apply(calendar, data, weekly, overrides)
    db.session.commit()
    audit("calendar.update", calendar_id=calendar.id)


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
    return open_slots(rules or calendar.rules(), busy, now, first_day, last_day, viewer_tz)


def without_limits(rules: Rules) -> Rules:
    """An organiser's rules: every start on the slot grid of every day, from now on, with no notice,
    window or daily cap; the duration, interval, buffers and seats (other bookings) still apply."""
    return replace(
        rules,
        weekly={weekday: ((0, 1440),) for weekday in range(7)},
        overrides={},
        min_notice=0,
        window_days=None,
        max_per_day=None,
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
