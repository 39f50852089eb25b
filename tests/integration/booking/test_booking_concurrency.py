"""Exactly-once under real concurrency: threads against a threaded server, processes against gunicorn.

Runs on the test database: SQLite by default, PostgreSQL when TEST_DATABASE_URL is set.
"""

import pytest
from sqlalchemy import func, select

from tests.conftest import tomorrow_at
from tests.integration.booking.races import form, gunicorn_race, race
from webapp.booking import services
from webapp.booking.models import Booking
from webapp.extensions import db


def count_bookings() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Booking.id)).where(Booking.status == "confirmed"))


def test_twenty_threads_one_token_make_exactly_one_booking(served, make_link):
    _, token = make_link()
    statuses = race(served, [(f"/book/{token}", form(tomorrow_at(10 + n % 8), n)) for n in range(20)])
    assert statuses == [303] + [410] * 19
    assert count_bookings() == 1


def test_two_links_racing_for_a_one_seat_slot(served, make_link, make_calendar):
    calendar = make_calendar(timezone="UTC", weekly={d: [(0, 1440)] for d in range(7)})
    tokens = [make_link(calendar=calendar)[1] for _ in range(2)]
    statuses = race(served, [(f"/book/{t}", form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303, 409]
    assert count_bookings() == 1


def test_five_links_racing_for_a_three_seat_slot(served, make_link, make_calendar):
    calendar = make_calendar(timezone="UTC", seats=3, weekly={d: [(0, 1440)] for d in range(7)})
    tokens = [make_link(calendar=calendar)[1] for _ in range(5)]
    statuses = race(served, [(f"/book/{t}", form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303, 303, 303, 409, 409]
    assert count_bookings() == 3


def rearmed_link(make_link) -> str:
    """A link that booked, whose booking was cancelled, and that may book again (re-arm); its token."""
    link, token = make_link(rearm_on_cancel=True)
    first = services.book(link, tomorrow_at(9), services.Invitee("First", "", "UTC"))
    services.cancel(first, by="invitee")
    db.session.refresh(link)
    assert link.bookable
    return token


def test_twenty_threads_on_a_re_armed_link_make_exactly_one_more_booking(served, make_link):
    token = rearmed_link(make_link)
    statuses = race(served, [(f"/book/{token}", form(tomorrow_at(10 + n % 8), n)) for n in range(20)])
    assert statuses == [303] + [410] * 19
    assert count_bookings() == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Booking.id))) == 2  # the cancelled one keeps its record


@pytest.mark.slow
@pytest.mark.parametrize("rearmed", [False, True], ids=["new", "re-armed"])
def test_twenty_processes_against_gunicorn_make_exactly_one_booking(app, make_link, rearmed):
    token = rearmed_link(make_link) if rearmed else make_link()[1]
    statuses = gunicorn_race(app, [(token, form(tomorrow_at(10 + n % 8), n)) for n in range(20)])
    assert statuses == [303] + [410] * 19
    assert count_bookings() == 1
