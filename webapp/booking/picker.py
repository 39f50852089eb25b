"""The month view and day slots shown on the public booking pages."""

import calendar as month_calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from webapp import params
from webapp.booking import cache
from webapp.calendars.availability import Slot, slots_by_day
from webapp.calendars.forms import zone_names
from webapp.calendars.models import Calendar
from webapp.calendars.services import slots
from webapp.clock import utcnow

LOOKAHEAD_DAYS = 93  # how far the first page looks for the first open day


@dataclass
class Picker:
    """Everything the picker template needs: the month grid, the chosen day and its slots."""

    timezone: str
    month: date  # first day of the shown month
    today: date
    open_days: dict[date, list[Slot]]
    day: date | None
    weeks: list[list[date | None]] = field(default_factory=list)
    prev_month: date | None = None
    next_month: date | None = None
    seats: int = 1  # the calendar's: group calendars show the seats left
    # The earliest slot start the picker was derived from (None: no slot at all); see build().
    earliest: datetime | None = field(default=None, repr=False, compare=False)
    # Its HTML with nothing chosen, in parts around a hole for the page URL, per i18n.cache_key()
    # (the locale and the clock): prerender.picker_parts.
    html: dict | None = field(default=None, repr=False, compare=False)

    @property
    def day_slots(self) -> list[Slot]:
        return self.open_days.get(self.day, []) if self.day else []


def valid_zone(name: str | None) -> str | None:
    """The zone name when it is a known IANA zone, else None."""
    return name if name and name in zone_names() else None


def parse_month(text: str | None) -> date | None:
    """'2026-12' -> date(2026, 12, 1); None when absent or malformed; params.OutOfRange past the years served."""
    if not text:
        return None  # the usual case, without strptime's exception
    try:
        return params.month(text)
    except params.OutOfRange:
        raise
    except ValueError:
        return None


def parse_day(text: str | None) -> date | None:
    """'2026-12-01' -> date; None when absent or malformed; params.OutOfRange past the days served."""
    if not text:
        return None
    try:
        return params.day(text)
    except params.OutOfRange:
        raise
    except ValueError:
        return None


def _month_end(first: date) -> date:
    return first.replace(day=month_calendar.monthrange(first.year, first.month)[1])


def _add_months(first: date, n: int) -> date:
    month = first.month - 1 + n
    return date(first.year + month // 12, month % 12 + 1, 1)


def _open_days(cal, rules, timezone, month, today, now, exclude_booking_id) -> dict[date, list[Slot]]:
    first = max(month, today)
    return slots_by_day(slots(cal, first, _month_end(month), timezone, now, exclude_booking_id, rules), timezone)


def build(
    cal: Calendar,
    timezone: str,
    month: date | None = None,
    day: date | None = None,
    exclude_booking_id: int | None = None,
    state: cache.CalendarState | None = None,
) -> Picker:
    """The picker for a month (default: the month of the first open day) and a day in it.

    Pickers are cached per minute. One is computed as of the minute's first instant and served
    during the minute while none of the slots it was derived from has fallen behind the minimum
    notice: the only thing that can change within a minute (dates, hence the window, change on
    whole minutes). When one has, it is computed again as of now and replaces the entry. The key
    holds the calendar's state read fresh, bookings included (cache.CalendarState), so a booking,
    a cancellation or a settings change is seen by the next request. A cached Picker is shared:
    treat it as read-only. `state`: the calendar's, when the caller has just read it.
    """
    now = utcnow()
    state = state or cache.read_state(cal.id)
    if state is None:  # deleted meanwhile
        return compute(cal, timezone, month, day, exclude_booking_id, now)
    minute = now.replace(second=0, microsecond=0)
    key = ("picker", state, timezone, month, day, exclude_booking_id, minute)
    store = cache.store()
    picker = store.get(key)
    if picker is None:
        picker = compute(state, timezone, month, day, exclude_booking_id, minute)
        store.put(key, picker)
    if picker.earliest is not None and picker.earliest < now + timedelta(minutes=state.min_notice):
        picker = compute(state, timezone, month, day, exclude_booking_id, now)
        store.put(key, picker)
    return picker


def compute(
    cal: Calendar | cache.CalendarState,
    timezone: str,
    month: date | None,
    day: date | None,
    exclude_booking_id: int | None,
    now: datetime,
) -> Picker:
    """build() without the cache, as of `now`."""
    rules = cal.rules()
    today = now.astimezone(ZoneInfo(timezone)).date()
    if day and not month:
        month = day.replace(day=1)
    explicit_month = month is not None
    this_month = today.replace(day=1)
    month = max(month or this_month, this_month)
    last_bookable = today + timedelta(days=cal.window_days + 1) if cal.window_days else None
    if last_bookable and month > last_bookable:
        month = last_bookable.replace(day=1)
    open_days = _open_days(cal, rules, timezone, month, today, now, exclude_booking_id)
    earliest = _first_start(open_days)
    if not open_days and not explicit_month:
        # Nothing left this month: show the month of the next open day instead.
        ahead = slots(cal, today, today + timedelta(days=LOOKAHEAD_DAYS), timezone, now, exclude_booking_id, rules)  # type: ignore[arg-type]  # a CalendarState is read as a Calendar (duck-typed)
        if ahead:
            earliest = ahead[0].start
            month = ahead[0].start.astimezone(ZoneInfo(timezone)).date().replace(day=1)
            open_days = _open_days(cal, rules, timezone, month, today, now, exclude_booking_id)
    if day not in open_days:
        day = min(open_days) if open_days else None
    weeks = [
        [d if d.month == month.month else None for d in week]
        for week in month_calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    ]
    next_month = _add_months(month, 1)
    return Picker(
        timezone=timezone,
        month=month,
        today=today,
        open_days=open_days,
        day=day,
        weeks=weeks,
        prev_month=_add_months(month, -1) if month > this_month else None,
        next_month=None if last_bookable and next_month > last_bookable else next_month,
        seats=cal.seats,
        earliest=earliest,
    )


def _first_start(open_days: dict[date, list[Slot]]) -> datetime | None:
    return min((day_slots[0].start for day_slots in open_days.values() if day_slots), default=None)
