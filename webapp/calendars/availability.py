"""Open booking slots of one calendar: pure time arithmetic, standard library only.

Semantics
---------
* Availability ranges are wall-clock minutes from local midnight (0..1440, 1440 = 24:00) in the
  calendar's zone. A date's override ranges replace its weekday's ranges; an empty override closes it.
* Each calendar-local date's ranges become absolute UTC intervals. Slots start at a range's start and
  every `interval` minutes (default: `duration`) after it in absolute time, while start + duration
  <= range end. A range across a DST change therefore covers the real hours between its two ends.
* A wall time that does not exist (spring-forward gap) moves forward to the transition instant. An
  ambiguous wall time (fall-back) uses its first occurrence for a range start and its second
  occurrence for a range end, so the range covers the repeated hour. One exception: an end equal to
  the time the clocks are turned back to (01:00 in New York) ends at its first occurrence, as the
  range holds none of the repeated times. Put together: a range runs from the first instant the wall
  clock shows its start to the instant after which it never again shows a time before its end, so
  a date's ranges never reach into the next date.
* Ranges of one date that overlap or touch (after conversion) are merged before slots are generated.
  Out-of-bounds minutes are clamped to 0..1440 and empty ranges are ignored; `range_errors` reports them.
* A slot [s, e) is blocked by a booking [bs, be) when [s - before, e + after) and
  [bs - before, be + after) overlap. On group calendars (seats > 1), bookings with exactly the slot's
  start and end take seats instead (seats_left = seats - count, 0 = not offered); any other
  overlapping booking blocks. Bookings whose end is not after their start are ignored.
* No slot starts before now + min_notice. A slot's calendar-local date must be
  <= (now in the calendar's zone).date() + window_days (None = unlimited), and must have fewer than
  max_per_day bookings, counted by each booking's start read in the calendar's zone (each Busy is
  one booking, also on group calendars).
* viewer_tz only selects which slots are returned: those whose start, read in viewer_tz, falls on
  first_day..last_day. Results are sorted by start, in UTC.
* Naive datetimes (now, bookings) are taken to be UTC.
* Days outside FIRST_DAY..LAST_DAY have no slots: date arithmetic near year 1 or 9999 would overflow.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_MINUTES = 1440
ONE_DAY = timedelta(days=1)
# The days the engine answers for; callers refuse others with a message (webapp/params.py).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)


@dataclass(frozen=True)
class Rules:
    """Booking rules of one calendar; every length is in minutes."""

    timezone: str
    duration: int
    interval: int | None = None
    weekly: Mapping[int, Sequence[tuple[int, int]]] = field(default_factory=dict)
    overrides: Mapping[date, Sequence[tuple[int, int]]] = field(default_factory=dict)
    buffer_before: int = 0
    buffer_after: int = 0
    min_notice: int = 0
    window_days: int | None = 60
    max_per_day: int | None = None
    seats: int = 1

    def __post_init__(self) -> None:
        # Only the checks that would otherwise loop forever or give nonsense; zones are the caller's job.
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.interval is not None and self.interval <= 0:
            raise ValueError("interval must be positive")
        if self.seats < 1:
            raise ValueError("seats must be at least 1")
        if min(self.buffer_before, self.buffer_after, self.min_notice) < 0:
            raise ValueError("buffers and min_notice must not be negative")
        if (self.window_days or 0) < 0 or (self.max_per_day or 0) < 0:
            raise ValueError("window_days and max_per_day must not be negative")


@dataclass(frozen=True)
class Busy:
    """An existing booking on the calendar (one seat)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Slot:
    """A bookable slot; start and end are aware UTC datetimes."""

    start: datetime
    end: datetime
    seats_left: int


def open_slots(
    rules: Rules,
    bookings: Iterable[Busy],
    now: datetime,
    first_day: date,
    last_day: date,
    viewer_tz: str,
) -> list[Slot]:
    """Open slots whose start, read in viewer_tz, falls on first_day..last_day (inclusive), sorted by start."""
    zone = ZoneInfo(rules.timezone)
    viewer = ZoneInfo(viewer_tz)
    first_day, last_day = max(first_day, FIRST_DAY), min(last_day, LAST_DAY)
    if last_day < first_day:
        return []
    now = _as_utc(now)

    # Every returned start lies in [lowest, highest): the viewer's days, cut at now + notice.
    lowest = max(_to_utc(first_day, 0, viewer, end=False), now + timedelta(minutes=rules.min_notice))
    highest = _to_utc(last_day + ONE_DAY, 0, viewer, end=False)
    if lowest >= highest:
        return []

    # Only the calendar dates that overlap that span: a date's ranges stay within the date.
    first = lowest.astimezone(zone).date()
    last = highest.astimezone(zone).date()
    if rules.window_days is not None:
        last = min(last, now.astimezone(zone).date() + timedelta(days=rules.window_days))

    busy = [(s, e) for b in bookings if (s := _as_utc(b.start)) < (e := _as_utc(b.end))]
    starts = sorted(s for s, _ in busy)
    ends = sorted(e for _, e in busy)
    # Only group calendars share a slot between bookings with the very same start and end.
    same = Counter(busy) if rules.seats > 1 else None

    duration = timedelta(minutes=rules.duration)
    step = timedelta(minutes=rules.interval or rules.duration)
    pad = timedelta(minutes=rules.buffer_before + rules.buffer_after)

    found: list[Slot] = []
    day = first
    while day <= last:
        ranges = rules.overrides.get(day)
        if ranges is None:
            ranges = rules.weekly.get(day.weekday(), ())
        if ranges and not _at_cap(rules.max_per_day, starts, day, zone):
            for span_start, span_end in _spans(day, ranges, zone):
                t = span_start
                if t < lowest:
                    # Jump to the first step on or after `lowest` instead of walking through the past.
                    t += -((span_start - lowest) // step) * step
                while t < highest and t + duration <= span_end:
                    slot_end = t + duration
                    # Padding both intervals by before+after is the same as padding the slot on both
                    # sides by their sum. Bookings ending by s - pad all start before e + pad, so
                    # the overlapping ones are counted with one bisect on each sorted list.
                    overlapping = bisect_left(starts, slot_end + pad) - bisect_right(ends, t - pad)
                    taken = same[(t, slot_end)] if overlapping and same is not None else 0
                    # Open only when every overlapping booking is a seat taken on this very slot.
                    if overlapping == taken and taken < rules.seats:
                        found.append(Slot(t, slot_end, rules.seats - taken))
                    t += step
        day += ONE_DAY

    return found


def range_errors(ranges: Sequence[tuple[int, int]]) -> list[str]:
    """Human messages for bad ranges of one day: end not after start, outside 0..1440, overlapping ranges."""
    errors = []
    valid = []
    for start, end in ranges:
        if start < 0 or end > DAY_MINUTES:
            errors.append(f"{_hhmm(start)}–{_hhmm(end)} is outside 00:00–24:00")
        elif end <= start:
            errors.append(f"{_hhmm(start)}–{_hhmm(end)} must end after it starts")
        else:
            valid.append((start, end))
    # Touching ranges (09:00–12:00, 12:00–13:00) are fine: they are merged when slots are made.
    valid.sort()
    for i, (start, end) in enumerate(valid):
        for other_start, other_end in valid[i + 1 :]:
            if other_start >= end:
                break
            errors.append(f"{_hhmm(start)}–{_hhmm(end)} overlaps {_hhmm(other_start)}–{_hhmm(other_end)}")
    return errors


def slots_by_day(slots: Iterable[Slot], tz: str) -> dict[date, list[Slot]]:
    """Group slots by their local date in tz (ordered)."""
    zone = ZoneInfo(tz)
    days: dict[date, list[Slot]] = {}
    for slot in sorted(slots, key=lambda slot: slot.start):
        days.setdefault(slot.start.astimezone(zone).date(), []).append(slot)
    return days


def _as_utc(moment: datetime) -> datetime:
    # Database drivers may hand back naive UTC; astimezone would read those as server-local time.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _to_utc(day: date, minute: int, zone: ZoneInfo, *, end: bool) -> datetime:
    """The UTC instant of wall-clock `minute` on `day` in zone (1440 = next midnight)."""
    extra_days, minute = divmod(minute, DAY_MINUTES)
    wall = datetime.combine(day + timedelta(days=extra_days), time(minute // 60, minute % 60))
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first
    if first < second:
        # A repeated wall time; fold=0 is its first occurrence. An end takes the second one, unless the
        # clocks were turned back to exactly this time: then the wall clock just before the second
        # occurrence reads later than `wall`, and the range is over at the first occurrence.
        just_before = (second - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None)
        return second if end and just_before < wall else first
    # Skipped wall time: fold=0 read it with the old offset (later instant), fold=1 with the new one.
    return _transition(second, first, zone)


def _transition(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first whole second in (before, after] that already has after's UTC offset."""
    target = after.astimezone(zone).utcoffset()
    low, high = 0, int((after - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return before + timedelta(seconds=high)


def _spans(day: date, ranges: Sequence[tuple[int, int]], zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The day's ranges as sorted, merged UTC intervals."""
    spans = []
    for start, end in ranges:
        start, end = max(start, 0), min(end, DAY_MINUTES)
        if start < end:
            span = (_to_utc(day, start, zone, end=False), _to_utc(day, end, zone, end=True))
            # A range lying wholly inside a DST gap converts to nothing.
            if span[0] < span[1]:
                spans.append(span)
    spans.sort()
    # Merge after conversion: a gap or a repeated hour can make ranges touch or overlap in real time.
    merged: list[tuple[datetime, datetime]] = []
    for span_start, span_end in spans:
        if merged and span_start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], span_end))
        else:
            merged.append((span_start, span_end))
    return merged


def _at_cap(cap: int | None, starts: list[datetime], day: date, zone: ZoneInfo) -> bool:
    """True when the calendar-local day already holds `cap` bookings (by start)."""
    if cap is None:
        return False
    midnight = _to_utc(day, 0, zone, end=False)
    next_midnight = _to_utc(day + ONE_DAY, 0, zone, end=False)
    return bisect_left(starts, next_midnight) - bisect_left(starts, midnight) >= cap


def _hhmm(minute: int) -> str:
    sign = "-" if minute < 0 else ""
    hours, minutes = divmod(abs(minute), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"
