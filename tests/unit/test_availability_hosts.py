"""The availability engine with hosts: busy time around the buffered slot, time off and own hours in the
host's zone, collective and round robin, and properties against a brute-force reference."""

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.calendars.availability import Busy, HostTime, Rules, open_slots

PAST = datetime(2026, 1, 1, tzinfo=UTC)
DAY = date(2026, 3, 10)  # a Tuesday


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


def rules(**options) -> Rules:
    return Rules(**{"timezone": "UTC", "duration": 30, "window_days": None, "overrides": {DAY: [(0, 1440)]}, **options})


def open_at(found) -> list[str]:
    return [slot.start.strftime("%H:%M") for slot in found]


def slots(hosts=(), bookings=(), day=DAY, **options):
    round_robin = options.pop("round_robin", False)
    unassigned = options.pop("unassigned", ())
    if day != DAY:
        options.setdefault("overrides", {day: [(0, 1440)]})
    return open_slots(rules(**options), bookings, PAST, day, day, "UTC", hosts, round_robin, unassigned)


def test_without_hosts_nothing_changes_and_a_free_host_is_named_on_every_slot():
    plain = slots()
    hosted = slots([HostTime(7)])
    assert open_at(plain) == open_at(hosted) and len(plain) == 48
    assert all(s.host_ids == () for s in plain) and all(s.host_ids == (7,) for s in hosted)


def test_busy_time_blocks_the_slot_widened_by_this_calendars_buffers():
    host = HostTime(1, busy=[(at(10), at(11))])
    found = open_at(slots([host], buffer_before=15, buffer_after=30, interval=15))
    # 09:15 + 30 min after ends at 10:15: blocked; 08:45–09:15 + 30 ends at 09:45: open. 11:15 - 15 = 11:00.
    assert "09:00" in found and "09:15" not in found
    assert "11:00" not in found and "11:15" in found


def test_collective_needs_every_host():
    ada, bob = HostTime(1), HostTime(2, busy=[(at(10), at(10, 30))])
    found = slots([ada, bob])
    assert "10:00" not in open_at(found)
    assert found[0].host_ids == (1, 2)


def test_the_calendars_own_bookings_stay_seats_on_a_collective_group_calendar():
    found = slots([HostTime(1), HostTime(2)], bookings=[Busy(at(10), at(10, 30))] * 2, seats=3)
    ten = next(s for s in found if s.start == at(10))
    assert ten.seats_left == 1


def test_round_robin_is_open_while_one_host_is_free_and_sums_their_seats():
    ada = HostTime(1, bookings=[Busy(at(10), at(10, 30))])
    bob = HostTime(2, busy=[(at(11), at(12))])
    found = {s.start: s for s in slots([ada, bob], round_robin=True, seats=2)}
    assert (found[at(10)].host_ids, found[at(10)].seats_left) == ((1, 2), 3)
    assert (found[at(11)].host_ids, found[at(11)].seats_left) == ((1,), 2)
    assert (found[at(9)].host_ids, found[at(9)].seats_left) == ((1, 2), 4)


def test_round_robin_a_booking_without_a_host_counts_against_every_host():
    found = slots([HostTime(1), HostTime(2)], round_robin=True, unassigned=[Busy(at(10), at(10, 30))])
    assert "10:00" not in open_at(found) and "10:30" in open_at(found)


def test_round_robin_keeps_the_daily_cap_over_all_bookings():
    booked = [Busy(at(9), at(9, 30))]
    found = slots([HostTime(1, bookings=booked), HostTime(2)], booked, round_robin=True, max_per_day=1)
    assert found == []


def test_time_off_covers_the_hosts_local_days():
    host = HostTime(1, timezone="Asia/Tokyo", time_off=[(DAY, DAY)])  # UTC+9: 9 March 15:00 to 10 March 15:00
    assert open_at(slots([host]))[0] == "15:00"


def test_an_organisers_rules_set_hours_and_time_off_aside_but_not_busy_time():
    host = HostTime(1, time_off=[(DAY, DAY)], hours={}, busy=[(at(10), at(11))])
    assert slots([host]) == []
    found = open_at(slots([host], host_limits=False))
    assert len(found) == 46 and "10:00" not in found


def test_own_hours_follow_the_hosts_zone_across_dst():
    # New York springs forward on 8 March 2026: 9:00–17:00 is 14:00–22:00 UTC before, 13:00–21:00 after.
    weekly = {d: [(9 * 60, 17 * 60)] for d in range(5)}
    host = HostTime(1, timezone="America/New_York", hours=weekly)
    before, after = date(2026, 3, 6), date(2026, 3, 9)
    assert open_at(slots([host], day=before))[::15] == ["14:00", "21:30"]
    assert open_at(slots([host], day=after))[::15] == ["13:00", "20:30"]


def test_own_hours_that_cross_the_hosts_midnight_stay_one_range():
    # A Tokyo calendar's day (15:00 UTC to 15:00 UTC) holds London's midnight; the host works 22:00–02:00
    # there (two ranges, one span): an hour from 23:30 fits.
    host = HostTime(1, timezone="Europe/London", hours={d: [(0, 120), (22 * 60, 1440)] for d in range(7)})
    calendar = Rules(timezone="Asia/Tokyo", duration=60, interval=30, window_days=None, overrides={DAY: [(0, 1440)]})
    found = open_slots(calendar, (), PAST, DAY - timedelta(days=1), DAY, "UTC", [host])
    assert open_at(found) == ["22:00", "22:30", "23:00", "23:30", "00:00", "00:30", "01:00"]


# --- properties ------------------------------------------------------------------------------------

MINUTES = st.integers(min_value=0, max_value=24 * 60)


@st.composite
def intervals(draw):
    start = draw(MINUTES)
    return at(0) + timedelta(minutes=start), at(0) + timedelta(minutes=start + draw(st.integers(1, 180)))


def overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


@settings(max_examples=150, deadline=None)
@given(
    busy=st.lists(st.lists(intervals(), max_size=8), min_size=1, max_size=3),
    own=st.lists(st.lists(intervals(), max_size=4), min_size=3, max_size=3),
    before=st.integers(0, 45),
    after=st.integers(0, 45),
    round_robin=st.booleans(),
)
def test_hosts_match_a_brute_force_reference(busy, own, before, after, round_robin):
    hosts = [
        HostTime(n, busy=blocks, bookings=[Busy(s, e) for s, e in own[n]] if round_robin else ())
        for n, blocks in enumerate(busy)
    ]
    found = {s.start: s for s in slots(hosts, buffer_before=before, buffer_after=after, round_robin=round_robin)}
    pad_before, pad_after = timedelta(minutes=before), timedelta(minutes=after)
    pad = pad_before + pad_after
    for base in slots(buffer_before=before, buffer_after=after):
        wide = (base.start - pad_before, base.end + pad_after)
        free = [
            host.id
            for host in hosts
            if not any(overlaps(*wide, s, e) for s, e in host.busy)
            and not any(overlaps(base.start - pad, base.end + pad, b.start, b.end) for b in host.bookings)
        ]
        expected = free if round_robin else (free if len(free) == len(hosts) else [])
        got = found.get(base.start)
        assert (list(got.host_ids) if got else []) == expected, base.start
