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

Hosts (optional; none: everything above, unchanged)
---------------------------------------------------
* Each HostTime brings a host's `busy` intervals (their bookings on other calendars, already widened by
  those calendars' buffers, and their connected calendars' events): a slot widened by this calendar's
  buffers, [s - before, e + after), that overlaps one is not the host's. `time_off` (host-local days,
  inclusive) and, when `hours` is given, the time outside the host's own weekly hours (minutes in the
  host's zone, converted as the calendar's ranges are) bound the slot itself, as the calendar's hours do:
  a host whose day ends at 17:00 takes a 16:30-17:00 slot even with a buffer after it. Rules.host_limits
  False (an organiser's move) sets hours and time off aside; busy time still counts.
* Not round robin (single, collective): a slot is open when it is open for the calendar (the seats
  logic above over `bookings`) and every host is free; Slot.host_ids lists them all.
* Round robin: the calendar's seats are per host. Each host's `bookings` (this calendar's bookings
  assigned to them) and the `bookings` passed as `unassigned` (this calendar's without a host) run the
  seats logic for that host; a slot is open when at least one host is free, Slot.host_ids lists the free
  hosts and seats_left is the sum of their seats left. `bookings` still count for max_per_day.
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
    host_limits: bool = True  # False: hosts' own hours and time off set aside (an organiser's move)

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
    """A bookable slot; start and end are aware UTC datetimes; host_ids: the hosts free for it (in the
    order given; empty for a calendar without hosts)."""

    start: datetime
    end: datetime
    seats_left: int
    host_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class HostTime:
    """One host's time, as a calendar's slots depend on it (see the module's docstring)."""

    id: int
    timezone: str = "UTC"
    busy: Sequence[tuple[datetime, datetime]] = ()
    time_off: Sequence[tuple[date, date]] = ()
    hours: Mapping[int, Sequence[tuple[int, int]]] | None = None  # None: the calendar's hours alone
    bookings: Sequence[Busy] = ()  # round robin: this calendar's bookings assigned to the host


def open_slots(
    rules: Rules,
    bookings: Iterable[Busy],
    now: datetime,
    first_day: date,
    last_day: date,
    viewer_tz: str,
    hosts: Sequence[HostTime] = (),
    round_robin: bool = False,
    unassigned: Iterable[Busy] = (),
) -> list[Slot]:
    """Open slots whose start, read in viewer_tz, falls on first_day..last_day (inclusive), sorted by start.

    `hosts`, `round_robin`, `unassigned`: see the module's docstring."""
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
    before, after = timedelta(minutes=rules.buffer_before), timedelta(minutes=rules.buffer_after)
    shared = list(unassigned) if round_robin else []
    people = [_Host(h, rules, shared, lowest, highest) for h in hosts]
    pooled = round_robin and bool(people)

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
                    if pooled:
                        free, left = [], 0
                        for person in people:
                            seats = person.seats_left(t, slot_end, before, after, pad)
                            if seats:
                                free.append(person.id)
                                left += seats
                        if free:
                            found.append(Slot(t, slot_end, left, tuple(free)))
                        t += step
                        continue
                    overlapping = bisect_left(starts, slot_end + pad) - bisect_right(ends, t - pad)
                    taken = same[(t, slot_end)] if overlapping and same is not None else 0
                    # Open only when every overlapping booking is a seat taken on this very slot.
                    if (
                        overlapping == taken
                        and taken < rules.seats
                        and all(person.free(t, slot_end, before, after) for person in people)
                    ):
                        found.append(Slot(t, slot_end, rules.seats - taken, tuple(p.id for p in people)))
                    t += step
        day += ONE_DAY

    return found


class _Host:
    """A HostTime made ready for many questions: merged, sorted intervals, each answered with a bisect."""

    def __init__(self, host: HostTime, rules: Rules, unassigned: list[Busy], lowest: datetime, highest: datetime):
        self.id = host.id
        self.busy = _Intervals((_as_utc(s), _as_utc(e)) for s, e in host.busy)
        off: list[tuple[datetime, datetime]] = []
        if rules.host_limits:
            zone = ZoneInfo(host.timezone)
            for first, last in host.time_off:
                first, last = max(first, FIRST_DAY), min(last, LAST_DAY)
                if first <= last:
                    off.append((_to_utc(first, 0, zone, end=False), _to_utc(last + ONE_DAY, 0, zone, end=False)))
            if host.hours is not None:
                off.extend(_outside(host.hours, zone, lowest, highest))
        self.off = _Intervals(off)
        self.seats = rules.seats
        mine = [(s, e) for b in (*host.bookings, *unassigned) if (s := _as_utc(b.start)) < (e := _as_utc(b.end))]
        self.starts = sorted(s for s, _ in mine)
        self.ends = sorted(e for _, e in mine)
        self.same = Counter(mine) if rules.seats > 1 else None

    def free(self, start: datetime, end: datetime, before: timedelta, after: timedelta) -> bool:
        """True when neither busy time (around the buffered slot) nor time off or hours (the slot) keep the host."""
        return not self.off.overlaps(start, end) and not self.busy.overlaps(start - before, end + after)

    def seats_left(self, start: datetime, end: datetime, before: timedelta, after: timedelta, pad: timedelta) -> int:
        """Round robin: the host's seats left on the slot (0: not free), their own bookings as seats."""
        if not self.free(start, end, before, after):
            return 0
        overlapping = bisect_left(self.starts, end + pad) - bisect_right(self.ends, start - pad)
        taken = self.same[(start, end)] if overlapping and self.same is not None else 0
        return self.seats - taken if overlapping == taken and taken < self.seats else 0


class _Intervals:
    """Intervals merged into sorted, disjoint ones: does [start, end) overlap any? One bisect."""

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]]):
        merged: list[list[datetime]] = []
        for start, end in sorted(i for i in intervals if i[0] < i[1]):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [start for start, _ in merged]
        self.ends = [end for _, end in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        # The last interval starting before `end` is the only one that can reach past `start`.
        i = bisect_left(self.starts, end) - 1
        return i >= 0 and self.ends[i] > start


_NEVER = datetime.min.replace(tzinfo=UTC)
_ALWAYS = datetime.max.replace(tzinfo=UTC)


def _outside(
    weekly: Mapping[int, Sequence[tuple[int, int]]], zone: ZoneInfo, lowest: datetime, highest: datetime
) -> list[tuple[datetime, datetime]]:
    """The time outside weekly hours (in zone) around [lowest, highest): before, between and after the spans."""
    first = max(lowest.astimezone(zone).date() - ONE_DAY, FIRST_DAY)
    last = min(highest.astimezone(zone).date() + ONE_DAY, LAST_DAY)
    spans: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        spans.extend(_spans(day, weekly.get(day.weekday(), ()), zone))
        day += ONE_DAY
    outside, since = [], _NEVER
    for span_start, span_end in spans:  # days in order, each's spans sorted and within the day
        if span_start > since:
            outside.append((since, span_start))
        since = max(since, span_end)
    outside.append((since, _ALWAYS))
    return outside


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
