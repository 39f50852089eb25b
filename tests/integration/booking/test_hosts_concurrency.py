"""Exactly-once with hosts, under real concurrency: bookings of calendars that share a host take turns
(threads against a threaded server, processes against gunicorn). SQLite by default, PostgreSQL when
TEST_DATABASE_URL is set."""

import pytest
from sqlalchemy import func, select

from tests.conftest import tomorrow_at
from tests.integration.booking.races import form, gunicorn_race, race
from webapp.booking.models import Booking, BookingHost
from webapp.calendars import services as calendars
from webapp.extensions import db

ALL_DAY = {d: [(0, 1440)] for d in range(7)}


def confirmed() -> list[Booking]:
    db.session.expire_all()
    return list(db.session.scalars(select(Booking).where(Booking.status == "confirmed")))


def hosts_booked() -> list[int]:
    db.session.expire_all()
    query = select(BookingHost.host_id).where(BookingHost.active.is_(True))
    return sorted(db.session.scalars(query))


@pytest.fixture
def shared_host(make_calendar, make_host):
    """Two calendars, each hosted by the same one host."""
    first = make_calendar(name="First", weekly=ALL_DAY)
    second = make_calendar(name="Second", weekly=ALL_DAY)
    host = make_host(calendars=[first, second])
    return first, second, host


@pytest.fixture
def two_host_round_robin(make_calendar, make_host):
    """A round-robin calendar of two hosts."""
    calendar = make_calendar(name="Sales", weekly=ALL_DAY)
    ada, bob = make_host(calendars=[calendar]), make_host(calendars=[calendar])
    calendars.set_hosts(calendar, [ada.id, bob.id], "round_robin")
    db.session.commit()
    return calendar, ada, bob


def test_two_links_on_two_calendars_sharing_a_host_make_one_booking(served, make_link, shared_host):
    first, second, host = shared_host
    tokens = [make_link(calendar=first)[1], make_link(calendar=second)[1]]
    statuses = race(served, [(f"/book/{t}", form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303, 409]
    assert len(confirmed()) == 1 and hosts_booked() == [host.id]


def test_overlapping_slots_on_two_calendars_sharing_a_host_make_one_booking(
    served, make_link, make_calendar, make_host
):
    first = make_calendar(name="First", weekly=ALL_DAY)
    second = make_calendar(name="Second", weekly=ALL_DAY, slot_interval=15)
    make_host(calendars=[first, second])
    tokens = [make_link(calendar=c)[1] for c in (first, second) for _ in range(3)]
    # 10:00 on the first against 10:15 on the second: 30-minute meetings that overlap.
    starts = [tomorrow_at(10)] * 3 + [tomorrow_at(10, 15)] * 3
    statuses = race(served, [(f"/book/{t}", form(s, n)) for n, (t, s) in enumerate(zip(tokens, starts, strict=True))])
    assert statuses == [303] + [409] * 5
    assert len(confirmed()) == 1


def test_round_robin_of_two_hosts_gives_two_invitees_the_slot_and_refuses_the_rest(
    served, make_link, two_host_round_robin
):
    calendar, ada, bob = two_host_round_robin
    tokens = [make_link(calendar=calendar)[1] for _ in range(5)]
    statuses = race(served, [(f"/book/{t}", form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303, 303, 409, 409, 409]
    assert len(confirmed()) == 2 and hosts_booked() == sorted([ada.id, bob.id])


@pytest.mark.slow
def test_processes_on_two_calendars_sharing_a_host_make_one_booking(app, make_link, shared_host):
    first, second, host = shared_host
    tokens = [make_link(calendar=c)[1] for c in (first, second) for _ in range(5)]
    statuses = gunicorn_race(app, [(t, form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303] + [409] * 9
    assert len(confirmed()) == 1 and hosts_booked() == [host.id]


@pytest.mark.slow
def test_processes_on_a_round_robin_of_two_hosts_make_two_bookings(app, make_link, two_host_round_robin):
    calendar, ada, bob = two_host_round_robin
    tokens = [make_link(calendar=calendar)[1] for _ in range(8)]
    statuses = gunicorn_race(app, [(t, form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303, 303] + [409] * 6
    assert len(confirmed()) == 2 and hosts_booked() == sorted([ada.id, bob.id])
    assert db.session.scalar(select(func.count(BookingHost.booking_id))) == 2
