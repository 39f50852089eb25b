"""Slots and bookings with hosts: a host's time is one, across every calendar they host and their
connected calendars; single, collective and round robin calendars. The clock is pinned (a Monday)."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from webapp.booking import assign, cache, picker, services
from webapp.booking.models import Booking, BookingHost
from webapp.calendars import services as calendars
from webapp.extensions import db
from webapp.hosts.models import BusyBlock, Connection, Host, HostHours, HostTimeOff

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # a Monday
DAY = date(2027, 3, 2)
ALL_DAY = {d: [(0, 1440)] for d in range(7)}


@pytest.fixture(autouse=True)
def _pinned():
    with time_machine.travel(NOW, tick=False) as clock:
        yield clock


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


def starts(calendar, day: date = DAY) -> list[str]:
    """The open starts of the day, "HH:MM" UTC."""
    return [s.start.strftime("%H:%M") for s in calendars.slots(calendar, day, day, "UTC")]


def slot(calendar, start: datetime):
    return calendars.slot_at(calendar, start)


@pytest.fixture
def cal(make_calendar):
    """cal(**fields): a UTC calendar open all day every day, 30-minute slots."""

    def make(**fields):
        return make_calendar(**{"weekly": ALL_DAY, "window_days": 30, **fields})

    return make


@pytest.fixture
def book(make_link):
    """book(calendar, start, name="…"): a booking made through a one-time link, as an invitee does."""
    counter = iter(range(1, 1000))

    def make(calendar, start, name=None):
        link, _ = make_link(calendar=calendar)
        return services.book(link, start, services.Invitee(name or f"Invitee {next(counter)}", "", "UTC"))

    return make


def hosts_of(booking) -> list[int]:
    return sorted(db.session.scalars(select(BookingHost.host_id).where(BookingHost.booking_id == booking.id)))


# --- one host, two calendars ---------------------------------------------------------------------


def test_a_booking_blocks_the_shared_host_on_the_other_calendar_with_both_buffers(cal, make_host, book):
    first = cal(name="First", buffer_after=15)
    second = cal(name="Second", buffer_before=10, slot_interval=15)
    host = make_host(calendars=[first, second])
    booking = book(first, at(10))
    # The host is busy 10:00–10:45 (first's buffer after); second's slots need 10 minutes before them.
    assert hosts_of(booking) == [host.id]
    row = db.session.scalar(select(BookingHost).where(BookingHost.booking_id == booking.id))
    assert (row.busy_start, row.busy_end, row.active) == (at(10), at(10, 45), True)
    day = starts(second)
    assert "09:30" in day  # 09:20–10:00
    assert not {"09:45", "10:00", "10:15", "10:30", "10:45"} & set(day)
    assert "11:00" in day  # 10:50–11:30 starts after 10:45


def test_a_calendar_without_the_host_is_not_blocked(cal, make_host, book):
    first, other = cal(name="First"), cal(name="Other")
    make_host(calendars=[first])
    make_host(calendars=[other])
    book(first, at(10))
    assert "10:00" in starts(other)


def test_cancelling_frees_the_host_on_the_other_calendar(cal, make_host, book):
    first, second = cal(name="First"), cal(name="Second")
    host = make_host(calendars=[first, second])
    booking = book(first, at(10))
    assert "10:00" not in starts(second)
    seq = db.session.get(Host, host.id).busy_seq
    services.cancel(booking, by="admin")
    assert "10:00" in starts(second)
    assert db.session.scalar(select(BookingHost.active).where(BookingHost.booking_id == booking.id)) is False
    db.session.expire_all()
    assert db.session.get(Host, host.id).busy_seq > seq


def test_booking_the_other_calendar_at_the_blocked_time_is_refused(cal, make_host, book):
    first, second = cal(name="First"), cal(name="Second")
    make_host(calendars=[first, second])
    book(first, at(10))
    with pytest.raises(services.SlotUnavailable):
        book(second, at(10))


def test_a_group_calendar_keeps_its_seats_and_blocks_the_shared_host_elsewhere(cal, make_host, book):
    group, single = cal(name="Group", seats=3), cal(name="One to one")
    make_host(calendars=[group, single])
    book(group, at(10))
    book(group, at(10))
    ten = slot(group, at(10))
    assert ten is not None and ten.seats_left == 1  # the group's own bookings are seats, not busy time
    assert "10:00" not in starts(single)
    book(single, at(14))
    assert slot(group, at(14)) is None  # and the other way round


def test_a_calendar_without_hosts_works_as_before(cal, book):
    alone = cal(name="Alone")
    booking = book(alone, at(10))
    assert hosts_of(booking) == []
    assert slot(alone, at(10)) is None and slot(alone, at(10, 30)) is not None


# --- collective ----------------------------------------------------------------------------------


def test_collective_needs_every_host_free_and_books_them_all(cal, make_host, book):
    team = cal(name="Team")
    other = cal(name="Other")
    ada, bob = make_host(calendars=[team]), make_host(calendars=[team, other])
    calendars.set_hosts(team, [ada.id, bob.id], "collective")
    db.session.commit()
    book(other, at(11))  # bob is busy 11:00–11:30
    assert "11:00" not in starts(team)
    booking = book(team, at(10))
    assert hosts_of(booking) == sorted([ada.id, bob.id])
    assert slot(other, at(10)) is None


# --- round robin ---------------------------------------------------------------------------------


@pytest.fixture
def round_robin(cal, make_host):
    """A round-robin calendar of two hosts (ada first), and those hosts."""
    calendar = cal(name="Sales")
    ada, bob = make_host(name="Ada", calendars=[calendar]), make_host(name="Bob", calendars=[calendar])
    calendars.set_hosts(calendar, [ada.id, bob.id], "round_robin")
    db.session.commit()
    return calendar, ada, bob


def test_round_robin_gives_one_slot_to_two_invitees_with_different_hosts_and_refuses_a_third(round_robin, book):
    calendar, ada, bob = round_robin
    assert slot(calendar, at(10)).seats_left == 2
    first = book(calendar, at(10))
    assert slot(calendar, at(10)).seats_left == 1
    second = book(calendar, at(10))
    assert {hosts_of(first)[0], hosts_of(second)[0]} == {ada.id, bob.id}
    assert slot(calendar, at(10)) is None
    with pytest.raises(services.SlotUnavailable):
        book(calendar, at(10))


def test_round_robin_offers_a_slot_while_one_host_is_free(round_robin, cal, make_host, book):
    calendar, ada, bob = round_robin
    other = cal(name="Other")
    calendars.set_hosts(other, [ada.id])
    db.session.commit()
    book(other, at(10))
    ten = slot(calendar, at(10))
    assert ten.host_ids == (bob.id,) and ten.seats_left == 1
    assert hosts_of(book(calendar, at(10))) == [bob.id]


def _made(booking, days_ago: float) -> None:
    db.session.execute(
        update(BookingHost)
        .where(BookingHost.booking_id == booking.id)
        .values(created_at=NOW - timedelta(days=days_ago))
    )
    db.session.commit()


def test_round_robin_picks_the_fewest_bookings_of_the_last_30_days(round_robin, book):
    calendar, ada, bob = round_robin
    # Ada had two bookings 40 days ago (they no longer count), Bob one 10 days ago.
    for hour in (9, 10):
        booking = book(calendar, at(hour))
        db.session.execute(update(BookingHost).where(BookingHost.booking_id == booking.id).values(host_id=ada.id))
        _made(booking, 40)
    booking = book(calendar, at(11))
    db.session.execute(update(BookingHost).where(BookingHost.booking_id == booking.id).values(host_id=bob.id))
    _made(booking, 10)
    assert hosts_of(book(calendar, at(14))) == [ada.id]
    # Now one each in the last 30 days; Bob's is older: the least recently booked goes next.
    assert hosts_of(book(calendar, at(15))) == [bob.id]


def test_round_robin_breaks_a_tie_by_priority_then_least_recent_then_position(round_robin, book):
    calendar, ada, bob = round_robin
    assert hosts_of(book(calendar, at(9))) == [ada.id]  # a tie all along: the first position
    assert hosts_of(book(calendar, at(10))) == [bob.id]  # fewest in 30 days
    calendars.set_hosts(calendar, [ada.id, bob.id], priorities={bob.id: 5})
    db.session.commit()
    assert hosts_of(book(calendar, at(11))) == [bob.id]  # one each: the higher priority
    assert hosts_of(book(calendar, at(12))) == [ada.id]  # fewest again
    calendars.set_hosts(calendar, [ada.id, bob.id])
    db.session.commit()
    # Two each, equal priority: the one booked least recently.
    made = {b.start_at.hour: b for b in db.session.scalars(select(Booking).where(Booking.calendar_id == calendar.id))}
    _made(made[10], 1), _made(made[11], 1)  # Bob's
    assert assign.pick(calendar.id, [ada.id, bob.id]) == bob.id
    _made(made[9], 2), _made(made[12], 2)  # Ada's, older still
    assert assign.pick(calendar.id, [ada.id, bob.id]) == ada.id


def test_round_robin_a_cancelled_booking_no_longer_counts(round_robin, book):
    calendar, ada, bob = round_robin
    calendars.set_hosts(calendar, [ada.id, bob.id], priorities={ada.id: 1})
    db.session.commit()
    first = book(calendar, at(9))
    assert hosts_of(first) == [ada.id]
    services.cancel(first, by="admin")
    assert hosts_of(book(calendar, at(10))) == [ada.id]


# --- moving --------------------------------------------------------------------------------------


def test_reschedule_keeps_the_host_when_free_and_moves_the_busy_time(round_robin, book):
    calendar, ada, bob = round_robin
    booking = book(calendar, at(10))
    host = hosts_of(booking)
    services.reschedule(booking, at(14), by="admin")
    assert hosts_of(booking) == host
    row = db.session.scalar(select(BookingHost).where(BookingHost.booking_id == booking.id))
    assert (row.busy_start, row.busy_end) == (at(14), at(14, 30))


def test_reschedule_reassigns_a_round_robin_booking_when_its_host_is_busy(round_robin, cal, book):
    calendar, ada, bob = round_robin
    booking = book(calendar, at(10))
    assert hosts_of(booking) == [ada.id]
    other = cal(name="Other")
    calendars.set_hosts(other, [ada.id])
    db.session.commit()
    book(other, at(14))  # Ada is busy at 14:00
    services.reschedule(booking, at(14), by="admin")
    assert hosts_of(booking) == [bob.id]
    other_two = cal(name="Other two")
    calendars.set_hosts(other_two, [bob.id])
    db.session.commit()
    with pytest.raises(services.SlotUnavailable):  # Bob is busy at 14:00 now
        book(other_two, at(14))


def test_reschedule_is_refused_when_no_host_is_free(round_robin, cal, book):
    calendar, ada, bob = round_robin
    booking = book(calendar, at(10))
    other = cal(name="Other")
    calendars.set_hosts(other, [ada.id, bob.id], "collective")
    db.session.commit()
    book(other, at(14))
    with pytest.raises(services.SlotUnavailable):
        services.reschedule(booking, at(14), by="admin")
    assert booking.start_at == at(10)


# --- time off, own hours, connected calendars ----------------------------------------------------


def test_time_off_is_whole_days_in_the_hosts_zone(cal, make_host):
    calendar = cal(name="Calls")
    host = make_host(timezone="Pacific/Auckland", calendars=[calendar])  # UTC+13 in March
    db.session.add(HostTimeOff(host_id=host.id, first_day=date(2027, 3, 3), last_day=date(2027, 3, 3)))
    db.session.commit()
    # 3 March in Auckland is 2 March 11:00 UTC to 3 March 11:00 UTC.
    day = starts(calendar)
    assert day[-1] == "10:30" and "11:00" not in day
    assert starts(calendar, date(2027, 3, 3))[0] == "11:00"


def test_an_organiser_move_sets_time_off_aside_but_not_busy_time(cal, make_host, book):
    calendar = cal(name="Calls")
    host = make_host(calendars=[calendar])
    booking = book(calendar, at(10))
    db.session.add(HostTimeOff(host_id=host.id, first_day=DAY, last_day=DAY))
    db.session.commit()
    assert slot(calendar, at(14)) is None
    services.reschedule(booking, at(14), by="admin", ignore_limits=True)
    assert booking.start_at == at(14)


@pytest.mark.parametrize(
    ("day", "first", "last"),
    [(date(2027, 3, 12), "14:00", "21:30"), (date(2027, 3, 15), "13:00", "20:30")],
    ids=["before-dst", "after-dst"],
)
def test_own_hours_in_the_hosts_zone_across_a_dst_change(cal, make_host, day, first, last):
    calendar = cal(name="Calls")  # UTC, open all day
    host = make_host(timezone="America/New_York", calendars=[calendar])
    host.own_hours = True
    db.session.add_all(HostHours(host_id=host.id, weekday=d, start_minute=9 * 60, end_minute=17 * 60) for d in range(5))
    db.session.commit()
    found = starts(calendar, day)
    assert (found[0], found[-1], len(found)) == (first, last, 16)  # New York's 9:00–17:00, in UTC


def test_own_hours_off_means_the_calendars_hours_alone(cal, make_host):
    calendar = cal(name="Calls")
    host = make_host(timezone="America/New_York", calendars=[calendar])
    db.session.add(HostHours(host_id=host.id, weekday=1, start_minute=9 * 60, end_minute=17 * 60))
    db.session.commit()
    assert len(starts(calendar)) == 48


def _connection(host, synced_minutes_ago: float | None, policy: str = "busy") -> Connection:
    last = None if synced_minutes_ago is None else NOW - timedelta(minutes=synced_minutes_ago)
    connection = Connection(host_id=host.id, kind="ics", status="ok", stale_policy=policy, last_success_at=last)
    db.session.add(connection)
    db.session.flush()
    db.session.add(BusyBlock(connection_id=connection.id, host_id=host.id, start_at=at(10), end_at=at(11)))
    db.session.commit()
    return connection


def test_a_fresh_connected_calendar_blocks_its_events_with_the_buffers(cal, make_host):
    calendar = cal(name="Calls", buffer_after=30)
    host = make_host(calendars=[calendar])
    _connection(host, synced_minutes_ago=5)
    day = starts(calendar)
    assert not {"09:30", "10:00", "10:30"} & set(day)  # 09:30 + 30 min after ends at 10:30
    assert {"09:00", "11:00"} <= set(day)


@pytest.mark.parametrize(("policy", "count"), [("busy", 0), ("ignore", 48)])
def test_a_stale_connected_calendar_follows_its_policy(cal, make_host, policy, count):
    calendar = cal(name="Calls")
    host = make_host(calendars=[calendar])
    _connection(host, synced_minutes_ago=7 * 60, policy=policy)
    assert len(starts(calendar)) == count


def test_round_robin_skips_a_host_busy_in_their_connected_calendar(round_robin, book):
    calendar, ada, bob = round_robin
    _connection(ada, synced_minutes_ago=1)
    assert slot(calendar, at(10)).host_ids == (bob.id,)
    assert hosts_of(book(calendar, at(10))) == [bob.id]


# --- the booking page's cache --------------------------------------------------------------------


def test_the_page_cache_key_changes_with_a_booking_of_the_shared_host_elsewhere(cal, make_host, book):
    first, second = cal(name="First"), cal(name="Second")
    make_host(calendars=[first, second])
    before = cache.read_state(second.id)
    page = picker.build(second, "UTC", day=DAY)
    assert any(s.start == at(10) for s in page.day_slots)
    book(first, at(10))
    after = cache.read_state(second.id)
    assert after != before and after.booking_seq == before.booking_seq
    page = picker.build(second, "UTC", day=DAY)
    assert not any(s.start == at(10) for s in page.day_slots)


def test_the_page_cache_key_holds_the_hosts_settings(cal, make_host):
    calendar = cal(name="Calls")
    host = make_host(timezone="Europe/Paris", calendars=[calendar])
    state = cache.read_state(calendar.id)
    assert [(h.id, h.timezone, h.own_hours) for h in state.hosts] == [(host.id, "Europe/Paris", False)]
    assert state.hosts == calendar.host_settings(calendars.since_for(NOW))
    host.own_hours = True
    db.session.add(HostHours(host_id=host.id, weekday=1, start_minute=540, end_minute=600))
    db.session.add(HostTimeOff(host_id=host.id, first_day=date(2027, 3, 10), last_day=date(2027, 3, 12)))
    db.session.add(HostTimeOff(host_id=host.id, first_day=date(2027, 1, 10), last_day=date(2027, 1, 12)))  # past
    db.session.commit()
    state = cache.read_state(calendar.id)
    assert state.hosts[0].hours == ((1, 540, 600),)
    assert state.hosts[0].time_off == ((date(2027, 3, 10), date(2027, 3, 12)),)
    assert state.hosts == calendar.host_settings(calendars.since_for(NOW))
    assert len(picker.build(calendar, "UTC", day=DAY).day_slots) == 2  # Paris 9:00–10:00 is 8:00–9:00 UTC


def test_each_calendars_page_reads_only_its_own_hosts(cal, make_host, make_link):
    """The booking page's state (and the link page's) holds the calendar's hosts, not every host's:
    another calendar's host with own hours and time off changes nothing here (the walk-through's find)."""
    mine, theirs, hostless = cal(name="Mine"), cal(name="Theirs"), cal(name="No hosts")
    sam = make_host(name="Sam", calendars=[mine])
    ada = make_host(name="Ada", calendars=[theirs])
    ada.own_hours = True
    db.session.add(HostHours(host_id=ada.id, weekday=DAY.weekday(), start_minute=540, end_minute=600))
    db.session.add(HostTimeOff(host_id=ada.id, first_day=DAY + timedelta(days=1), last_day=DAY + timedelta(days=1)))
    db.session.commit()
    assert [h.id for h in cache.read_state(mine.id).hosts] == [sam.id]
    assert [h.id for h in cache.read_state(theirs.id).hosts] == [ada.id]
    assert cache.read_state(hostless.id).hosts == ()
    _, token = make_link(calendar=mine)
    assert [h.id for h in cache.link_page(token).calendar.hosts] == [sam.id]
    whole_day = len(picker.build(cal(name="Reference"), "UTC", day=DAY).day_slots)
    assert len(picker.build(mine, "UTC", day=DAY).day_slots) == whole_day
    assert len(picker.build(hostless, "UTC", day=DAY + timedelta(days=1)).day_slots) == whole_day


# --- the API -------------------------------------------------------------------------------------


def test_the_api_gives_bookings_host_ids_and_slots_without_busy_hosts(api, cal, make_host, book):
    first, second = cal(name="First"), cal(name="Second")
    host = make_host(calendars=[first, second])
    booking = book(first, at(10))
    listed = api.get("/api/v1/bookings").get_json()["bookings"]
    assert [(b["id"], b["host_ids"]) for b in listed] == [(booking.id, [host.id])]
    body = api.get(f"/api/v1/calendars/{second.id}/slots?start=2027-03-02&end=2027-03-02&timezone=UTC").get_json()
    assert "2027-03-02T10:00:00Z" not in [s["start"] for s in body["slots"]]
    assert "2027-03-02T10:30:00Z" in [s["start"] for s in body["slots"]]


# --- the admin's pages ---------------------------------------------------------------------------


def test_the_admins_bookings_list_and_booking_page_name_the_host(login, cal, make_host, book):
    calendar = cal(name="Calls")
    make_host(name="Sam <b>Rivera</b>", calendars=[calendar])
    booking = book(calendar, at(10))
    escaped = "Sam &lt;b&gt;Rivera&lt;/b&gt;"
    assert f"with {escaped}" in login.get("/bookings/?view=all").text
    page = login.get(f"/bookings/{booking.id}").text
    assert ">Host</th>" in page and escaped in page
