"""The availability engine: DST edges, zones, limits, and properties against a brute-force reference."""

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.calendars.availability import Busy, Rules, Slot, open_slots, range_errors, slots_by_day

PAST = datetime(2026, 1, 1, tzinfo=UTC)
WEEKDAYS = range(5)
EVERY_DAY = range(7)


def hm(hours: int, minutes: int = 0) -> int:
    """Minutes from midnight: hm(9, 30) == 570."""
    return hours * 60 + minutes


def at(month: int, day: int, hours: int = 0, minutes: int = 0, year: int = 2026) -> datetime:
    """An aware UTC instant."""
    return datetime(year, month, day, hours, minutes, tzinfo=UTC)


def starts(slots: list[Slot]) -> list[datetime]:
    return [slot.start for slot in slots]


def day_slots(zone: str, day: date, ranges, *, viewer: str | None = None, bookings=(), now=PAST, **options):
    """Slots of one calendar date whose hours are `ranges` (given as an override), read in the calendar's zone."""
    options.setdefault("duration", 30)
    options.setdefault("window_days", None)
    rules = Rules(timezone=zone, overrides={day: ranges}, **options)
    return open_slots(rules, bookings, now, day, day, viewer or zone)


def every(first: datetime, last: datetime, minutes: int = 30) -> list[datetime]:
    """first, first + minutes, ..., last."""
    result = [first]
    while result[-1] < last:
        result.append(result[-1] + timedelta(minutes=minutes))
    assert result[-1] == last
    return result


# --- America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT, 2026-11-01 02:00 EDT -> 01:00 EST ---

SPRING_NY = date(2026, 3, 8)
FALL_NY = date(2026, 11, 1)


def test_new_york_spring_forward_business_hours_are_in_edt():
    slots = day_slots("America/New_York", SPRING_NY, [(hm(9), hm(17))])
    assert starts(slots) == every(at(3, 8, 13), at(3, 8, 20, 30))
    assert len(slots) == 16
    assert all(slot.end - slot.start == timedelta(minutes=30) for slot in slots)
    assert all(slot.start.tzinfo is UTC for slot in slots)


def test_new_york_day_before_spring_forward_is_in_est():
    slots = day_slots("America/New_York", date(2026, 3, 7), [(hm(9), hm(17))])
    assert starts(slots) == every(at(3, 7, 14), at(3, 7, 21, 30))


def test_new_york_spring_forward_range_across_the_gap_covers_two_real_hours():
    # 01:00 EST = 06:00Z, 04:00 EDT = 08:00Z.
    slots = day_slots("America/New_York", SPRING_NY, [(hm(1), hm(4))])
    assert starts(slots) == [at(3, 8, 6), at(3, 8, 6, 30), at(3, 8, 7), at(3, 8, 7, 30)]


def test_new_york_start_inside_the_gap_moves_to_the_transition():
    # 02:30 does not exist: the range starts at 03:00 EDT = 07:00Z.
    slots = day_slots("America/New_York", SPRING_NY, [(hm(2, 30), hm(5))])
    assert starts(slots) == [at(3, 8, 7), at(3, 8, 7, 30), at(3, 8, 8), at(3, 8, 8, 30)]


def test_new_york_end_inside_the_gap_moves_to_the_transition():
    # 00:00 EST = 05:00Z up to the transition at 07:00Z.
    slots = day_slots("America/New_York", SPRING_NY, [(hm(0), hm(2, 30))])
    assert starts(slots) == every(at(3, 8, 5), at(3, 8, 6, 30))


def test_new_york_range_wholly_inside_the_gap_is_empty():
    assert day_slots("America/New_York", SPRING_NY, [(hm(2), hm(2, 45))], duration=15) == []


def test_new_york_fall_back_business_hours_are_in_est():
    slots = day_slots("America/New_York", FALL_NY, [(hm(9), hm(17))])
    assert starts(slots) == every(at(11, 1, 14), at(11, 1, 21, 30))
    assert len(slots) == 16


def test_new_york_fall_back_range_across_the_change_covers_four_real_hours():
    # 01:00 EDT = 05:00Z (first 01:00) to 04:00 EST = 09:00Z.
    slots = day_slots("America/New_York", FALL_NY, [(hm(1), hm(4))])
    assert starts(slots) == every(at(11, 1, 5), at(11, 1, 8, 30))
    assert len(slots) == 8


def test_new_york_repeated_hour_end_uses_the_second_occurrence():
    # 00:00 EDT = 04:00Z; 01:30 is ambiguous, the end takes 01:30 EST = 06:30Z.
    slots = day_slots("America/New_York", FALL_NY, [(hm(0), hm(1, 30))])
    assert starts(slots) == every(at(11, 1, 4), at(11, 1, 6))


def test_new_york_end_at_the_time_clocks_go_back_to_is_its_first_occurrence():
    # 00:00-01:00 holds none of the repeated 01:00-02:00 times: 04:00Z to 01:00 EDT = 05:00Z.
    slots = day_slots("America/New_York", FALL_NY, [(hm(0), hm(1))])
    assert starts(slots) == [at(11, 1, 4), at(11, 1, 4, 30)]
    # One minute later the range reaches into the repeated hour, up to 01:01 EST = 06:01Z.
    slots = day_slots("America/New_York", FALL_NY, [(hm(0), hm(1, 1))])
    assert starts(slots) == every(at(11, 1, 4), at(11, 1, 5, 30))


def test_new_york_repeated_hour_start_uses_the_first_occurrence():
    # 01:30 EDT = 05:30Z up to 03:00 EST = 08:00Z.
    slots = day_slots("America/New_York", FALL_NY, [(hm(1, 30), hm(3))])
    assert starts(slots) == every(at(11, 1, 5, 30), at(11, 1, 7, 30))


# --- Europe/London: 2026-03-29 01:00 GMT -> 02:00 BST, 2026-10-25 02:00 BST -> 01:00 GMT ---


def test_london_spring_forward():
    day = date(2026, 3, 29)
    assert starts(day_slots("Europe/London", day, [(hm(9), hm(17))])) == every(at(3, 29, 8), at(3, 29, 15, 30))
    # 00:00 GMT = 00:00Z to 03:00 BST = 02:00Z.
    assert starts(day_slots("Europe/London", day, [(hm(0), hm(3))])) == every(at(3, 29, 0), at(3, 29, 1, 30))
    # 01:30 does not exist: start at the transition (01:00Z); 02:30 BST = 01:30Z.
    assert starts(day_slots("Europe/London", day, [(hm(1, 30), hm(2, 30))])) == [at(3, 29, 1)]


def test_london_fall_back():
    day = date(2026, 10, 25)
    assert starts(day_slots("Europe/London", day, [(hm(9), hm(17))])) == every(at(10, 25, 9), at(10, 25, 16, 30))
    # 00:00 BST = 23:00Z the day before, to 03:00 GMT = 03:00Z: four real hours.
    slots = day_slots("Europe/London", day, [(hm(0), hm(3))])
    assert starts(slots) == every(at(10, 24, 23), at(10, 25, 2, 30))
    # The repeated hour: 01:00 BST = 00:00Z to 02:00 GMT = 02:00Z.
    assert starts(day_slots("Europe/London", day, [(hm(1), hm(2))])) == every(at(10, 25, 0), at(10, 25, 1, 30))


# --- America/Havana: on 2026-11-01 clocks go from 01:00 CDT back to 00:00 CST, so midnight repeats ---


def test_havana_repeated_midnight():
    zone = ZoneInfo("America/Havana")
    first, second = (datetime(2026, 11, 1, 0, 30, fold=f, tzinfo=zone).astimezone(UTC) for f in (0, 1))
    assert (first, second) == (at(11, 1, 4, 30), at(11, 1, 5, 30))
    saturday, sunday = date(2026, 10, 31), date(2026, 11, 1)

    def query(overrides, first_day=saturday, last_day=sunday):
        rules = Rules(timezone="America/Havana", duration=30, overrides=overrides, window_days=None)
        return starts(open_slots(rules, [], PAST, first_day, last_day, "America/Havana"))

    # Saturday 23:00-24:00 ends at the first midnight (04:00Z): the repeated 00:00-01:00 is Sunday's.
    late = {saturday: [(hm(23), 1440)]}
    assert query(late) == [at(11, 1, 3), at(11, 1, 3, 30)]
    assert query(late, sunday, sunday) == []
    # Sunday 00:00-01:00 covers both passes of that hour: 04:00Z to 01:00 CST = 06:00Z.
    assert query({sunday: [(hm(0), hm(1))]}) == every(at(11, 1, 4), at(11, 1, 5, 30))
    both = {saturday: [(hm(23), 1440)], sunday: [(hm(0), hm(2))]}
    assert query(both) == every(at(11, 1, 3), at(11, 1, 6, 30))


# --- Australia/Lord_Howe: a 30-minute DST shift ---

LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def offset_hours(zone: ZoneInfo, moment: datetime) -> float:
    return moment.replace(tzinfo=zone).utcoffset().total_seconds() / 3600


def test_lord_howe_dst_dates_are_what_the_tests_assume():
    assert offset_hours(LORD_HOWE, datetime(2026, 4, 5, 1)) == 11
    assert offset_hours(LORD_HOWE, datetime(2026, 4, 5, 3)) == 10.5
    assert offset_hours(LORD_HOWE, datetime(2026, 10, 4, 1)) == 10.5
    assert offset_hours(LORD_HOWE, datetime(2026, 10, 4, 3)) == 11
    # 01:45 on 2026-04-05 happens twice; 02:15 on 2026-10-04 never happens.
    ambiguous = datetime(2026, 4, 5, 1, 45, tzinfo=LORD_HOWE)
    assert ambiguous.utcoffset() != ambiguous.replace(fold=1).utcoffset()
    skipped = datetime(2026, 10, 4, 2, 15, tzinfo=LORD_HOWE)
    assert skipped.astimezone(UTC).astimezone(LORD_HOWE).replace(tzinfo=None) != skipped.replace(tzinfo=None)


def test_lord_howe_end_of_dst():
    day = date(2026, 4, 5)
    # 01:00 (+11) = 14:00Z to 03:00 (+10:30) = 16:30Z: two and a half real hours.
    slots = day_slots("Australia/Lord_Howe", day, [(hm(1), hm(3))])
    assert starts(slots) == every(at(4, 4, 14), at(4, 4, 16))
    # 01:45 is repeated; as an end it is the later one (+10:30) = 15:15Z.
    slots = day_slots("Australia/Lord_Howe", day, [(hm(0), hm(1, 45))])
    assert starts(slots) == every(at(4, 4, 13), at(4, 4, 14, 30))
    # ...and as a start the earlier one (+11) = 14:45Z, up to 02:15 (+10:30) = 15:45Z.
    slots = day_slots("Australia/Lord_Howe", day, [(hm(1, 45), hm(2, 15))])
    assert starts(slots) == [at(4, 4, 14, 45), at(4, 4, 15, 15)]
    # Clocks go back to 01:30: as an end it is its first occurrence (+11) = 14:30Z.
    slots = day_slots("Australia/Lord_Howe", day, [(hm(0), hm(1, 30))])
    assert starts(slots) == every(at(4, 4, 13), at(4, 4, 14))


def test_lord_howe_start_of_dst():
    day = date(2026, 10, 4)
    # 02:00-02:30 does not exist; 02:15 moves to the transition, 02:00 (+10:30) = 15:30Z.
    slots = day_slots("Australia/Lord_Howe", day, [(hm(2, 15), hm(4))])
    assert starts(slots) == every(at(10, 3, 15, 30), at(10, 3, 16, 30))
    # 01:00 (+10:30) = 14:30Z to 04:00 (+11) = 17:00Z.
    slots = day_slots("Australia/Lord_Howe", day, [(hm(1), hm(4))])
    assert starts(slots) == every(at(10, 3, 14, 30), at(10, 3, 16, 30))
    assert starts(day_slots("Australia/Lord_Howe", day, [(hm(9), hm(10))])) == [at(10, 3, 22), at(10, 3, 22, 30)]


# --- Zones far apart, and half-hour offsets ---

TOKYO = Rules(timezone="Asia/Tokyo", duration=60, weekly={d: [(hm(9), hm(17))] for d in WEEKDAYS}, window_days=None)


def test_tokyo_calendar_for_a_los_angeles_viewer_lands_on_viewer_dates():
    # Tokyo Monday 2026-06-15 09:00 JST = 00:00Z = Sunday 17:00 PDT.
    sunday = open_slots(TOKYO, [], PAST, date(2026, 6, 14), date(2026, 6, 14), "America/Los_Angeles")
    assert starts(sunday) == every(at(6, 15, 0), at(6, 15, 6), minutes=60)
    # Monday in LA: Tokyo's Monday 16:00 slot (00:00 PDT) and Tokyo's Tuesday 09:00-15:00.
    monday = open_slots(TOKYO, [], PAST, date(2026, 6, 15), date(2026, 6, 15), "America/Los_Angeles")
    assert starts(monday) == [at(6, 15, 7)] + every(at(6, 16, 0), at(6, 16, 6), minutes=60)
    # Tokyo's Friday ends at 00:00 PDT Friday; Saturday in LA is Tokyo's weekend.
    friday = open_slots(TOKYO, [], PAST, date(2026, 6, 12), date(2026, 6, 12), "America/Los_Angeles")
    assert starts(friday) == [at(6, 12, 7)]
    assert open_slots(TOKYO, [], PAST, date(2026, 6, 13), date(2026, 6, 13), "America/Los_Angeles") == []


def test_tokyo_calendar_viewer_range_is_the_union_of_its_days():
    los_angeles = ZoneInfo("America/Los_Angeles")
    week = open_slots(TOKYO, [], PAST, date(2026, 6, 12), date(2026, 6, 15), "America/Los_Angeles")
    assert len(week) == 1 + 0 + 7 + 8
    assert {slot.start.astimezone(los_angeles).date() for slot in week} == {
        date(2026, 6, 12),
        date(2026, 6, 14),
        date(2026, 6, 15),
    }


def test_auckland_calendar_viewer_day_pulls_from_two_calendar_days():
    rules = Rules(timezone="Pacific/Auckland", duration=60, weekly={d: [(hm(6), hm(22))] for d in WEEKDAYS})
    slots = open_slots(rules, [], at(6, 1), date(2026, 6, 15), date(2026, 6, 15), "America/Los_Angeles")
    # Auckland Monday 19:00-21:00 NZST (07:00Z-09:00Z) and Tuesday 06:00-18:00 (Jun 15 18:00Z - Jun 16 06:00Z).
    assert starts(slots) == every(at(6, 15, 7), at(6, 15, 9), minutes=60) + every(
        at(6, 15, 18), at(6, 16, 6), minutes=60
    )


def test_kolkata_half_hour_offset():
    slots = day_slots("Asia/Kolkata", date(2026, 5, 4), [(hm(9), hm(17))])
    assert starts(slots) == every(at(5, 4, 3, 30), at(5, 4, 11))
    assert len(slots) == 16
    # 01:00-06:00 IST = 19:30Z (May 3) - 00:30Z: a UTC viewer sees only the 05:30 IST slot on May 4.
    early = [(hm(1), hm(6))]
    assert starts(day_slots("Asia/Kolkata", date(2026, 5, 4), early))[0] == at(5, 3, 19, 30)
    assert starts(day_slots("Asia/Kolkata", date(2026, 5, 4), early, viewer="UTC")) == [at(5, 4, 0)]


# --- Buffers, notice, window, daily cap ---

JUNE_10 = date(2026, 6, 10)  # a Wednesday, EDT (UTC-4)
MORNING = [(hm(9), hm(12))]  # 13:00Z-16:00Z
BOOKED_10AM = [Busy(at(6, 10, 14), at(6, 10, 14, 30))]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (0, 0, ["13:00", "13:30", "14:30", "15:00", "15:30"]),
        (15, 0, ["13:00", "15:00", "15:30"]),
        (0, 15, ["13:00", "15:00", "15:30"]),
        (10, 10, ["13:00", "15:00", "15:30"]),
        # Padded intervals that only touch do not block.
        (30, 0, ["13:00", "15:00", "15:30"]),
        (0, 30, ["13:00", "15:00", "15:30"]),
        (31, 0, ["15:30"]),
        (20, 20, ["15:30"]),
    ],
)
def test_buffers(before, after, expected):
    slots = day_slots(
        "America/New_York", JUNE_10, MORNING, bookings=BOOKED_10AM, buffer_before=before, buffer_after=after
    )
    assert [slot.start.strftime("%H:%M") for slot in slots] == expected


def test_min_notice_and_now():
    zone = "America/New_York"
    assert starts(day_slots(zone, JUNE_10, MORNING, now=at(6, 10, 13, 10)))[0] == at(6, 10, 13, 30)
    assert starts(day_slots(zone, JUNE_10, MORNING, now=at(6, 10, 13, 30)))[0] == at(6, 10, 13, 30)
    assert starts(day_slots(zone, JUNE_10, MORNING, now=at(6, 10, 13, 10), min_notice=60))[0] == at(6, 10, 14, 30)
    assert starts(day_slots(zone, JUNE_10, MORNING, now=at(6, 10, 13), min_notice=120)) == [
        at(6, 10, 15),
        at(6, 10, 15, 30),
    ]
    assert day_slots(zone, JUNE_10, MORNING, now=at(6, 10, 16)) == []
    assert day_slots(zone, JUNE_10, MORNING, now=at(6, 9, 16), min_notice=24 * 60) == []


def test_naive_now_and_bookings_are_utc():
    slots = day_slots(
        "America/New_York",
        JUNE_10,
        MORNING,
        now=datetime(2026, 6, 10, 13, 10),
        bookings=[Busy(datetime(2026, 6, 10, 14), datetime(2026, 6, 10, 14, 30))],
    )
    assert starts(slots) == [at(6, 10, 13, 30), at(6, 10, 14, 30), at(6, 10, 15), at(6, 10, 15, 30)]


DAILY_9AM = {d: [(hm(9), hm(10))] for d in EVERY_DAY}


def test_window_counts_from_today_in_the_calendar_zone():
    # 2026-06-11 02:00Z is still June 10 in New York, so a 1-day window ends on June 11.
    now = at(6, 11, 2)

    def query(window):
        rules = Rules(timezone="America/New_York", duration=30, weekly=DAILY_9AM, window_days=window)
        return starts(open_slots(rules, [], now, date(2026, 6, 10), date(2026, 6, 14), "America/New_York"))

    assert query(1) == [at(6, 11, 13), at(6, 11, 13, 30)]
    assert query(0) == []
    assert len(query(None)) == 8
    assert query(2)[-1] == at(6, 12, 13, 30)


def test_window_default_is_sixty_days():
    rules = Rules(timezone="UTC", duration=60, weekly={d: [(hm(9), hm(10))] for d in EVERY_DAY})
    slots = open_slots(rules, [], at(6, 1, 12), date(2026, 6, 1), date(2026, 12, 31), "UTC")
    assert slots[0].start == at(6, 2, 9)
    assert slots[-1].start == at(7, 31, 9)  # June 1 + 60 days
    assert len(slots) == 60


def test_daily_cap_counts_bookings_on_the_calendar_local_date():
    # 23:30 EDT on June 10 is 03:30Z on June 11: it counts for June 10.
    late = [Busy(at(6, 11, 3, 30), at(6, 11, 4))]

    def query(cap, bookings=late):
        rules = Rules(timezone="America/New_York", duration=30, weekly=DAILY_9AM, max_per_day=cap)
        return starts(open_slots(rules, bookings, at(6, 1), date(2026, 6, 10), date(2026, 6, 11), "America/New_York"))

    assert query(1) == [at(6, 11, 13), at(6, 11, 13, 30)]
    assert query(2) == [at(6, 10, 13), at(6, 10, 13, 30), at(6, 11, 13), at(6, 11, 13, 30)]
    assert query(None) == query(2)
    assert query(1, []) == query(2)
    assert query(0, []) == []


# --- Group slots ---


def test_seats_count_down_and_a_full_slot_disappears():
    pair = [Busy(at(6, 10, 14), at(6, 10, 14, 30))] * 2
    slots = day_slots("America/New_York", JUNE_10, MORNING, bookings=pair, seats=3)
    assert [(slot.start, slot.seats_left) for slot in slots] == [
        (at(6, 10, 13), 3),
        (at(6, 10, 13, 30), 3),
        (at(6, 10, 14), 1),
        (at(6, 10, 14, 30), 3),
        (at(6, 10, 15), 3),
        (at(6, 10, 15, 30), 3),
    ]
    for booked in (pair + pair[:1], pair * 2):  # exactly full, and overbooked
        full = day_slots("America/New_York", JUNE_10, MORNING, bookings=booked, seats=3)
        assert at(6, 10, 14) not in starts(full)
        assert len(full) == 5


def test_seats_an_overlapping_booking_at_another_start_blocks():
    odd = [Busy(at(6, 10, 14, 15), at(6, 10, 14, 45))]
    slots = day_slots("America/New_York", JUNE_10, MORNING, bookings=odd, seats=3)
    assert starts(slots) == [at(6, 10, 13), at(6, 10, 13, 30), at(6, 10, 15), at(6, 10, 15, 30)]
    assert {slot.seats_left for slot in slots} == {3}


def test_seats_with_buffers_and_longer_meetings():
    one = [Busy(at(6, 10, 14), at(6, 10, 15))]
    slots = day_slots("America/New_York", JUNE_10, MORNING, bookings=one, seats=3, duration=60, interval=30)
    assert [(slot.start, slot.seats_left) for slot in slots] == [
        (at(6, 10, 13), 3),
        (at(6, 10, 14), 2),
        (at(6, 10, 15), 3),
    ]
    slots = day_slots("America/New_York", JUNE_10, MORNING, bookings=BOOKED_10AM, seats=3, buffer_after=10)
    assert [(slot.start, slot.seats_left) for slot in slots] == [
        (at(6, 10, 13), 3),
        (at(6, 10, 14), 2),
        (at(6, 10, 15), 3),
        (at(6, 10, 15, 30), 3),
    ]


def test_one_to_one_exact_booking_blocks():
    slots = day_slots("America/New_York", JUNE_10, MORNING, bookings=BOOKED_10AM)
    assert at(6, 10, 14) not in starts(slots)
    assert {slot.seats_left for slot in slots} == {1}


# --- Overrides, intervals, merging ---


def test_overrides_close_a_day_or_change_its_hours():
    rules = Rules(
        timezone="America/New_York",
        duration=30,
        weekly={d: [(hm(9), hm(10))] for d in WEEKDAYS},
        overrides={
            date(2026, 6, 10): [],
            date(2026, 6, 11): [(hm(13), hm(14))],
            date(2026, 6, 14): [(hm(10), hm(11))],  # a Sunday, closed weekly
        },
    )
    slots = open_slots(rules, [], at(6, 1), date(2026, 6, 9), date(2026, 6, 14), "America/New_York")
    assert starts(slots) == [
        at(6, 9, 13),
        at(6, 9, 13, 30),
        at(6, 11, 17),
        at(6, 11, 17, 30),
        at(6, 12, 13),
        at(6, 12, 13, 30),
        at(6, 14, 14),
        at(6, 14, 14, 30),
    ]


def test_interval_differs_from_duration():
    slots = day_slots("America/New_York", JUNE_10, [(hm(9), hm(11))], duration=60, interval=15)
    assert starts(slots) == every(at(6, 10, 13), at(6, 10, 14), minutes=15)
    assert [slot.end for slot in slots] == every(at(6, 10, 14), at(6, 10, 15), minutes=15)
    slots = day_slots("America/New_York", JUNE_10, [(hm(9), hm(11))], duration=30, interval=90)
    assert starts(slots) == [at(6, 10, 13), at(6, 10, 14, 30)]


def test_overlapping_and_touching_ranges_are_merged():
    ranges = [(hm(9, 30), hm(11)), (hm(9), hm(10)), (hm(11), hm(11, 30))]
    slots = day_slots("America/New_York", JUNE_10, ranges, duration=60)
    # One 09:00-11:30 range: 09:00 and 10:00 (without merging it would be 09:00 and 09:30).
    assert starts(slots) == [at(6, 10, 13), at(6, 10, 14)]
    twice = day_slots("America/New_York", JUNE_10, [(hm(9), hm(10)), (hm(9), hm(10))])
    assert starts(twice) == [at(6, 10, 13), at(6, 10, 13, 30)]


def test_range_up_to_midnight():
    slots = day_slots("America/New_York", JUNE_10, [(hm(23), 1440)])
    assert starts(slots) == [at(6, 11, 3), at(6, 11, 3, 30)]


# --- range_errors, slots_by_day, Rules ---


def test_range_errors():
    assert range_errors([]) == []
    assert range_errors([(hm(9), hm(12)), (hm(13), hm(17))]) == []
    assert range_errors([(hm(9), hm(12)), (hm(12), hm(13))]) == []
    assert range_errors([(0, 1440)]) == []
    assert range_errors([(hm(11), hm(13)), (hm(9), hm(12))]) == ["09:00–12:00 overlaps 11:00–13:00"]
    assert range_errors([(hm(10), hm(9))]) == ["10:00–09:00 must end after it starts"]
    assert range_errors([(hm(10), hm(10))]) == ["10:00–10:00 must end after it starts"]
    assert range_errors([(-30, 60)]) == ["-00:30–01:00 is outside 00:00–24:00"]
    assert range_errors([(hm(23), hm(25))]) == ["23:00–25:00 is outside 00:00–24:00"]
    assert range_errors([(hm(9), hm(12)), (hm(10), hm(11)), (hm(11, 40), hm(13, 20))]) == [
        "09:00–12:00 overlaps 10:00–11:00",
        "09:00–12:00 overlaps 11:40–13:20",
    ]


def test_slots_by_day():
    week = open_slots(TOKYO, [], PAST, date(2026, 6, 12), date(2026, 6, 15), "America/Los_Angeles")
    grouped = slots_by_day(reversed(week), "America/Los_Angeles")
    assert list(grouped) == [date(2026, 6, 12), date(2026, 6, 14), date(2026, 6, 15)]
    assert [len(day) for day in grouped.values()] == [1, 7, 8]
    assert grouped[date(2026, 6, 15)] == week[8:]
    in_tokyo = slots_by_day(week, "Asia/Tokyo")
    assert list(in_tokyo) == [date(2026, 6, 12), date(2026, 6, 15), date(2026, 6, 16)]
    assert [len(day) for day in in_tokyo.values()] == [1, 8, 7]
    assert slots_by_day([], "UTC") == {}


def test_rules_defaults_and_checks():
    a, b = Rules("UTC", 30), Rules(timezone="UTC", duration=30)
    assert a == b and a.weekly == {} and a.overrides == {} and a.window_days == 60 and a.seats == 1
    assert a.weekly is not b.weekly
    with pytest.raises(ValueError):
        Rules("UTC", 0)
    with pytest.raises(ValueError):
        Rules("UTC", 30, interval=0)
    with pytest.raises(ValueError):
        Rules("UTC", 30, seats=0)
    with pytest.raises(ZoneInfoNotFoundError):
        open_slots(Rules("Mars/Olympus_Mons", 30), [], PAST, date(2026, 6, 1), date(2026, 6, 1), "UTC")
    with pytest.raises(ZoneInfoNotFoundError):
        open_slots(Rules("UTC", 30), [], PAST, date(2026, 6, 1), date(2026, 6, 1), "Nowhere/Land")
    assert open_slots(Rules("UTC", 30), [], PAST, date(2026, 6, 2), date(2026, 6, 1), "UTC") == []


# --- Properties against an independent brute-force reference ---

ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "America/St_Johns",
    "America/Santiago",  # DST starts at midnight: some dates have no 00:00
    "America/Havana",  # DST ends at 01:00 -> 00:00: midnight happens twice
    "Europe/London",
    "Africa/Casablanca",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Kiritimati",  # UTC+14
    "Etc/GMT+12",  # UTC-12
]
ORDINARY_DAYS = [date(2026, 1, 12), date(2026, 5, 14), date(2026, 8, 20)]
HOUR = timedelta(hours=1)


@cache
def reference_utc(zone_name: str, day: date, minute: int, end: bool) -> datetime:
    """Wall minute -> UTC by scanning the zone's offsets: a start is the first instant whose wall clock
    reads at least that time; an end is the instant from which the wall clock never reads less again."""
    zone = ZoneInfo(zone_name)
    # The wall time written as if it were UTC, so that instant + offset compares with it.
    wall = datetime.combine(day, time(), UTC) + timedelta(minutes=minute)

    def offset(moment):
        return moment.astimezone(zone).utcoffset()

    cuts = [wall - timedelta(days=2)]
    probe = cuts[0]
    while probe < wall + timedelta(days=2):
        if offset(probe + HOUR) != offset(probe):
            cuts.append(
                next(
                    probe + timedelta(minutes=m)
                    for m in range(61)
                    if offset(probe + timedelta(minutes=m)) != offset(probe)
                )
            )
        probe += HOUR
    cuts.append(probe)
    pieces = [(a, b, offset(a)) for a, b in zip(cuts, cuts[1:])]
    if not end:
        return next(max(a, wall - off) for a, b, off in pieces if b + off > wall)
    return next(min(b, wall - off) for a, b, off in reversed(pieces) if a + off < wall)


@cache
def transitions(zone_name: str) -> list[datetime]:
    """The hours of 2026 during which the zone's UTC offset changes."""
    zone = ZoneInfo(zone_name)
    found = []
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    while moment.year == 2026:
        if (moment + HOUR).astimezone(zone).utcoffset() != moment.astimezone(zone).utcoffset():
            found.append(moment)
        moment += HOUR
    return found


def reference_spans(rules: Rules, day: date) -> list[tuple[datetime, datetime]]:
    ranges = rules.overrides[day] if day in rules.overrides else rules.weekly.get(day.weekday(), [])
    spans = sorted(
        (reference_utc(rules.timezone, day, s, False), reference_utc(rules.timezone, day, e, True)) for s, e in ranges
    )
    merged = []
    for s, e in spans:
        if s >= e:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def reference_seats(rules: Rules, bookings, start: datetime, end: datetime) -> int:
    before, after = timedelta(minutes=rules.buffer_before), timedelta(minutes=rules.buffer_after)
    same = 0
    for b in bookings:
        if b.start - before < end + after and start - before < b.end + after:
            if rules.seats > 1 and (b.start, b.end) == (start, end):
                same += 1
            else:
                return 0
    return max(rules.seats - same, 0)


def day_is_open(rules: Rules, bookings, now: datetime, day: date) -> bool:
    zone = ZoneInfo(rules.timezone)
    if rules.window_days is not None and day > now.astimezone(zone).date() + timedelta(days=rules.window_days):
        return False
    if rules.max_per_day is None:
        return True
    return sum(b.start.astimezone(zone).date() == day for b in bookings) < rules.max_per_day


def reference_slots(rules, bookings, now, first_day, last_day, viewer_tz) -> list[Slot]:
    """O(days x slots x bookings), straight from the rules."""
    viewer = ZoneInfo(viewer_tz)
    duration = timedelta(minutes=rules.duration)
    step = timedelta(minutes=rules.interval or rules.duration)
    earliest = now + timedelta(minutes=rules.min_notice)
    found: dict[datetime, Slot] = {}
    for n in range(-3, (last_day - first_day).days + 4):
        day = first_day + timedelta(days=n)
        if not day_is_open(rules, bookings, now, day):
            continue
        for span_start, span_end in reference_spans(rules, day):
            t = span_start
            while t + duration <= span_end:
                if t >= earliest and first_day <= t.astimezone(viewer).date() <= last_day and t not in found:
                    seats = reference_seats(rules, bookings, t, t + duration)
                    found[t] = Slot(t, t + duration, seats)
                t += step
    return [slot for _, slot in sorted(found.items()) if slot.seats_left > 0]


# Quarter hours, often in the small hours where DST changes happen.
quarter = st.integers(0, 96) | st.integers(0, 20)
ranges_strategy = st.lists(
    st.tuples(quarter, quarter).filter(lambda r: r[0] != r[1]).map(lambda r: (min(r) * 15, max(r) * 15)),
    max_size=3,
)


@st.composite
def scenarios(draw):
    zone = draw(st.sampled_from(ZONES))
    viewer = draw(st.sampled_from([zone, *ZONES]))
    duration = draw(st.sampled_from([15, 30, 45, 60, 90]))
    # Mostly up to three days before a DST change of the zone (or the viewer's zone).
    change = draw(st.sampled_from(transitions(zone))) if transitions(zone) and draw(st.booleans()) else None
    others = transitions(viewer) + [datetime.combine(d, time(), UTC) for d in ORDINARY_DAYS]
    anchor = change or draw(st.sampled_from(others))
    now = anchor - timedelta(minutes=draw(st.integers(0, 3 * 1440)))
    first_day = anchor.astimezone(ZoneInfo(viewer)).date() - timedelta(days=draw(st.integers(0, 2)))
    last_day = first_day + timedelta(days=draw(st.integers(0, 3)))
    near = st.integers(-2, 6).map(lambda n: first_day + timedelta(days=n))
    overrides = draw(st.dictionaries(near, ranges_strategy, max_size=3))
    if change:
        # Hours on the day of the change whose ends fall around the skipped or repeated wall times.
        walls = [change.astimezone(ZoneInfo(zone)), (change + HOUR).astimezone(ZoneInfo(zone))]
        edges = sorted(
            {min(max(w.hour * 60 + w.minute // 15 * 15 + m, 0), 1440) for w in walls for m in range(-60, 91, 15)}
        )
        edge = st.sampled_from(edges)
        around = st.tuples(edge, edge).filter(lambda r: r[0] != r[1]).map(lambda r: (min(r), max(r)))
        overrides[walls[1].date()] = draw(st.lists(around, min_size=1, max_size=2))
    rules = Rules(
        timezone=zone,
        duration=duration,
        interval=draw(st.none() | st.sampled_from([5, 10, 15, 20, 30, 60, 90])),
        weekly=draw(st.dictionaries(st.integers(0, 6), ranges_strategy, min_size=2, max_size=7)),
        overrides=overrides,
        buffer_before=draw(st.sampled_from([0, 0, 5, 10, 15, 30])),
        buffer_after=draw(st.sampled_from([0, 0, 5, 10, 15, 30])),
        min_notice=draw(st.sampled_from([0, 0, 30, 60, 240, 1440])),
        window_days=draw(st.none() | st.integers(0, 2) | st.integers(0, 8)),
        max_per_day=draw(st.none() | st.integers(0, 4)),
        seats=draw(st.sampled_from([1, 1, 2, 3])),
    )
    bookings = [
        Busy(start, start + timedelta(minutes=length))
        for start, length in draw(
            st.lists(
                st.tuples(
                    st.integers(-2 * 288, 8 * 288).map(lambda n: now.replace(second=0) + timedelta(minutes=5 * n)),
                    st.integers(5, 180),
                ),
                max_size=20,
            )
        )
    ]
    # Bookings that exactly match open slots, so that group calendars share seats.
    candidates = open_slots(rules, [], now, first_day, last_day, viewer)
    if candidates:
        for slot in draw(st.lists(st.sampled_from(candidates), max_size=6)):
            bookings += [Busy(slot.start, slot.end)] * draw(st.integers(1, 3))
    return rules, draw(st.permutations(bookings)), now, first_day, last_day, viewer


PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(scenarios())
def test_property_invariants(scenario):
    rules, bookings, now, first_day, last_day, viewer_tz = scenario
    slots = open_slots(*scenario)
    zone, viewer = ZoneInfo(rules.timezone), ZoneInfo(viewer_tz)
    before, after = timedelta(minutes=rules.buffer_before), timedelta(minutes=rules.buffer_after)
    for previous, slot in zip(slots, slots[1:]):
        assert previous.start < slot.start
    for slot in slots:
        assert slot.start.tzinfo is UTC and slot.end.tzinfo is UTC
        assert slot.end - slot.start == timedelta(minutes=rules.duration)
        assert 1 <= slot.seats_left <= rules.seats
        assert slot.start >= now + timedelta(minutes=rules.min_notice)
        assert first_day <= slot.start.astimezone(viewer).date() <= last_day
        # Inside the converted hours of its calendar-local date, a date within the window and below the cap.
        local = slot.start.astimezone(zone).date()
        assert day_is_open(rules, bookings, now, local)
        assert any(s <= slot.start and slot.end <= e for s, e in reference_spans(rules, local))
        sharing = 0
        for b in bookings:
            if b.start - before < slot.end + after and slot.start - before < b.end + after:
                assert rules.seats > 1 and (b.start, b.end) == (slot.start, slot.end)
                sharing += 1
        assert slot.seats_left == rules.seats - sharing


@PROPERTY
@given(scenarios())
def test_property_matches_brute_force_reference(scenario):
    assert open_slots(*scenario) == reference_slots(*scenario)


@st.composite
def dst_days(draw):
    """One calendar date with a DST change and hours that start or end around the skipped or repeated times."""
    zone = draw(st.sampled_from([z for z in ZONES if transitions(z)]))
    change = draw(st.sampled_from(transitions(zone)))
    walls = [change.astimezone(ZoneInfo(zone)), (change + HOUR).astimezone(ZoneInfo(zone))]
    edges = sorted({min(max(w.hour * 60 + w.minute + m, 0), 1440) for w in walls for m in range(-90, 91, 15)})
    edge = st.sampled_from(edges)
    around = st.tuples(edge, edge).filter(lambda r: r[0] != r[1]).map(lambda r: (min(r), max(r)))
    day = draw(st.sampled_from(sorted({w.date() for w in walls})))
    rules = Rules(
        timezone=zone,
        duration=draw(st.sampled_from([15, 30, 45])),
        interval=draw(st.none() | st.sampled_from([10, 15])),
        overrides={day: draw(st.lists(around, min_size=1, max_size=3))},
        window_days=None,
    )
    viewer = draw(st.sampled_from([zone, "UTC", "Pacific/Kiritimati", "Etc/GMT+12"]))
    viewer_day = datetime.combine(day, time(12), ZoneInfo(zone)).astimezone(ZoneInfo(viewer)).date()
    return rules, [], change - timedelta(days=3), viewer_day - timedelta(days=1), viewer_day + timedelta(days=1), viewer


@PROPERTY
@given(dst_days())
def test_property_dst_days_match_brute_force_reference(scenario):
    assert open_slots(*scenario) == reference_slots(*scenario)


@PROPERTY
@given(scenarios())
def test_property_viewer_days_partition_the_range(scenario):
    rules, bookings, now, first_day, last_day, viewer_tz = scenario
    per_day = []
    day = first_day
    while day <= last_day:
        per_day += open_slots(rules, bookings, now, day, day, viewer_tz)
        day += timedelta(days=1)
    assert per_day == open_slots(*scenario)
