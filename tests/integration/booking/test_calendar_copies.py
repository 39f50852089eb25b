"""Bookings written into their hosts' CalDAV calendars, against a real Radicale server on loopback:
an event appears with the booking's UID and times, moves in place with a reschedule (same UID, higher
SEQUENCE), goes away with a cancel; a server that is down is retried and written once when it is up;
a collective booking goes into every host's calendar; no host, or no CalDAV connection, no rows."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import tomorrow_at
from tests.factories import book_link
from tests.helpers import reload
from tests.radicale import free_port, radicale_server
from webapp import outbound
from webapp.booking import calendar_copies, services
from webapp.booking.calendar_copies import DELETE, DONE, ERROR, PENDING, PUT, CalendarEventCopy
from webapp.booking.models import BookingHost
from webapp.calendars import services as calendar_services
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.hosts.credentials import seal_password
from webapp.hosts.models import CALDAV, COLLECTIVE, ICS, ROUND_ROBIN, STALE_IGNORE, Connection

# A Wednesday morning, so tomorrow is a weekday whatever the calendar.
NOW = datetime(2027, 3, 10, 8, 15, tzinfo=UTC)
ALL_DAY = {d: [(0, 1440)] for d in range(7)}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def loopback(app):
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = outbound.parse_networks("127.0.0.0/8")
    return app


@pytest.fixture
def radicale(loopback, tmp_path):
    with radicale_server(tmp_path) as server:
        yield server


def connect(host, server, write_url="", kind=CALDAV, label=""):
    """A connected calendar of `host`, as the connections feature saves one (the password sealed);
    `server`: the Radicale server, or (url, username, password) of one that is not there."""
    url, username, password = server if isinstance(server, tuple) else (server.url, server.user, server.password)
    connection = Connection(
        host_id=host.id,
        kind=kind,
        label=label,
        url=url,
        username=username,
        secret=seal_password(password),
        status="ok",
        write_url=write_url,
        stale_policy=STALE_IGNORE,
        last_success_at=utcnow(),
    )
    db.session.add(connection)
    db.session.commit()
    return connection


def copies():
    return list(db.session.scalars(select(CalendarEventCopy).order_by(CalendarEventCopy.id)))


def write_all() -> int:
    return calendar_copies.write_due(50)


def event_times(event):
    return event.decoded("dtstart"), event.decoded("dtend")


def test_a_booking_is_written_moved_in_place_and_removed(radicale, make_calendar, make_host, make_link):
    calendar = make_calendar(name="Intro call", weekly=ALL_DAY, location="Room 4")
    sam = make_host(name="Sam Rivera", calendars=[calendar])
    calendar_url = make_calendar_on(radicale)
    connect(sam, radicale, write_url=calendar_url)
    link, _token = make_link(calendar=calendar)
    start = tomorrow_at(10)

    booking = book_link(link, start)

    [copy] = copies()
    assert (copy.booking_id, copy.host_id, copy.state, copy.action) == (booking.id, sam.id, PENDING, PUT)
    assert radicale.events(calendar_url) == []  # written by the worker, not in the request
    assert write_all() == 1
    [event] = radicale.events(calendar_url)
    assert str(event["uid"]) == booking.uid
    assert event_times(event) == (start, start + timedelta(minutes=30))
    assert int(event["sequence"]) == 0
    assert str(event["summary"]) == "Intro call: Ada"
    assert str(event["location"]) == "Room 4"
    assert link.contact.email in str(event["description"])
    assert f"/bookings/{booking.id}" in str(event["description"])
    assert "mailto:" + link.contact.email in str(event["attendee"]).lower()
    copy = reload(copy)
    assert copy.state == DONE and copy.href.endswith(f"{booking.uid}.ics") and copy.etag
    assert copy.written_sequence == 0

    services.reschedule(booking, start + timedelta(hours=3), by="admin")
    assert reload(copy).state == PENDING
    assert write_all() == 1
    [moved] = radicale.events(calendar_url)
    assert str(moved["uid"]) == booking.uid
    assert event_times(moved) == (start + timedelta(hours=3), start + timedelta(hours=3, minutes=30))
    assert int(moved["sequence"]) == 1
    assert reload(copy).written_sequence == 1

    services.cancel(booking, by="admin")
    assert write_all() == 1
    assert radicale.events(calendar_url) == []
    copy = reload(copy)
    assert (copy.state, copy.action, copy.href) == (DONE, DELETE, "")
    assert write_all() == 0  # nothing left to do


def make_calendar_on(server, name="Work"):
    return server.make_calendar(name)


def test_the_first_calendar_found_when_none_is_chosen(radicale, make_calendar, make_host, make_link):
    calendar = make_calendar(weekly=ALL_DAY)
    sam = make_host(calendars=[calendar])
    calendar_url = make_calendar_on(radicale)
    connect(sam, radicale)  # no write_url: discovered
    booking = book_link(make_link(calendar=calendar)[0], tomorrow_at(11))
    assert write_all() == 1
    [event] = radicale.events(calendar_url)
    assert str(event["uid"]) == booking.uid
    assert reload(copies()[0]).calendar_url == calendar_url


def test_a_retry_after_a_lost_result_writes_the_event_once(radicale, make_calendar, make_host, make_link):
    calendar = make_calendar(weekly=ALL_DAY)
    sam = make_host(calendars=[calendar])
    calendar_url = make_calendar_on(radicale)
    connect(sam, radicale, write_url=calendar_url)
    book_link(make_link(calendar=calendar)[0], tomorrow_at(10))
    assert write_all() == 1
    # The worker crashed after the PUT, before it recorded it: the row is due again and knows nothing.
    [copy] = copies()
    copy.state, copy.href, copy.etag, copy.next_attempt_at = PENDING, "", "", utcnow()
    db.session.commit()
    assert write_all() == 1
    assert len(radicale.events(calendar_url)) == 1
    assert reload(copy).state == DONE


def test_a_server_that_is_down_is_retried_and_written_once_up(
    loopback, tmp_path, clock, make_calendar, make_host, make_link, login
):
    port = free_port()
    with radicale_server(tmp_path, port=port) as server:
        calendar_url = make_calendar_on(server)
    calendar = make_calendar(weekly=ALL_DAY)
    sam = make_host(name="Sam Rivera", calendars=[calendar])
    connect(sam, server, write_url=calendar_url)
    booking = book_link(make_link(calendar=calendar)[0], tomorrow_at(10))

    assert write_all() == 1
    [copy] = copies()
    copy = reload(copy)
    assert (copy.state, copy.attempts) == (PENDING, 1)
    assert copy.last_error == "the connection was refused"
    assert copy.next_attempt_at > utcnow()
    page = login.get(f"/bookings/{booking.id}").text
    assert "Couldn&#39;t add to Sam Rivera&#39;s calendar: the connection was refused, retrying" in page
    assert write_all() == 0  # not due yet

    with radicale_server(tmp_path, port=port) as again:
        clock.shift(timedelta(minutes=2))
        assert write_all() == 1
        assert [str(e["uid"]) for e in again.events(calendar_url)] == [booking.uid]
    copy = reload(copy)
    assert (copy.state, copy.last_error) == (DONE, "")
    assert "Added to Sam Rivera&#39;s calendar" in login.get(f"/bookings/{booking.id}").text


def test_a_collective_booking_goes_into_each_hosts_calendar(radicale, make_calendar, make_host, make_link):
    calendar = make_calendar(weekly=ALL_DAY)
    sam = make_host(name="Sam", calendars=[calendar])
    kim = make_host(name="Kim", calendars=[calendar])
    calendar_services.set_hosts(calendar, [sam.id, kim.id], assignment=COLLECTIVE)
    db.session.commit()
    sams, kims = make_calendar_on(radicale, "Sam's"), make_calendar_on(radicale, "Kim's")
    connect(sam, radicale, write_url=sams)
    connect(kim, radicale, write_url=kims)
    booking = book_link(make_link(calendar=calendar)[0], tomorrow_at(9))

    assert {copy.host_id for copy in copies()} == {sam.id, kim.id}
    assert write_all() == 2
    assert [str(e["uid"]) for e in radicale.events(sams)] == [booking.uid]
    assert [str(e["uid"]) for e in radicale.events(kims)] == [booking.uid]

    services.cancel(booking, by="admin")
    assert write_all() == 2
    assert radicale.events(sams) == [] and radicale.events(kims) == []


def test_the_bookings_hosts_decide_not_the_calendars(app, make_calendar, make_host, make_link):
    """BookingHost rows (the slot engine's choice) name the hosts; a host taken off the booking has its
    copy removed. Round robin without them: no host is known, nothing is written."""
    calendar = make_calendar(weekly=ALL_DAY)
    sam = make_host(calendars=[calendar])
    kim = make_host(calendars=[calendar])
    calendar_services.set_hosts(calendar, [sam.id, kim.id], assignment=ROUND_ROBIN)
    db.session.commit()
    server = ("http://127.0.0.1:9/", "sam", "pw")  # never reached: nothing is written in this test
    sams, kims = connect(sam, server), connect(kim, server)
    booking = book_link(make_link(calendar=calendar)[0], tomorrow_at(9))
    for row in db.session.scalars(select(BookingHost).where(BookingHost.booking_id == booking.id)):
        db.session.delete(row)  # whatever the engine chose: this test chooses Kim
    db.session.add(
        BookingHost(
            booking_id=booking.id,
            host_id=kim.id,
            calendar_id=calendar.id,
            busy_start=booking.start_at,
            busy_end=booking.end_at,
        )
    )
    db.session.flush()
    calendar_copies.queue(booking)
    db.session.commit()
    assert {(c.connection_id, c.action) for c in copies()} - {(sams.id, DELETE)} == {(kims.id, PUT)}


def test_no_hosts_or_no_caldav_connection_makes_no_rows(app, make_calendar, make_host, make_link):
    no_hosts = make_calendar(name="No hosts", weekly=ALL_DAY)
    book_link(make_link(calendar=no_hosts)[0], tomorrow_at(9))
    hosted = make_calendar(name="Hosted", weekly=ALL_DAY)
    sam = make_host(calendars=[hosted])
    booking = book_link(make_link(calendar=hosted)[0], tomorrow_at(10))
    connect(sam, ("http://127.0.0.1:9/feed.ics", "", ""), kind=ICS)
    services.reschedule(booking, tomorrow_at(11), by="admin")
    services.cancel(booking, by="admin")
    assert copies() == []
    assert write_all() == 0


def test_an_address_the_policy_refuses_is_not_retried(app, make_calendar, make_host, make_link, login):
    """Without OUTBOUND_ALLOWED_NETWORKS, a loopback server is refused before any connection; trying
    again cannot help, so the copy gives up at once and the booking's page says why."""
    calendar = make_calendar(weekly=ALL_DAY)
    sam = make_host(name="Sam Rivera", calendars=[calendar])
    connect(sam, ("http://127.0.0.1:9/", "sam", "pw"), write_url="http://127.0.0.1:9/sam/work/")
    booking = book_link(make_link(calendar=calendar)[0], tomorrow_at(10))
    assert write_all() == 1
    [copy] = copies()
    copy = reload(copy)
    assert (copy.state, copy.next_attempt_at) == (ERROR, None)
    assert copy.last_error == "not allowed: 127.0.0.1 is a loopback address"
    page = login.get(f"/bookings/{booking.id}").text
    assert "Couldn&#39;t add to Sam Rivera&#39;s calendar: not allowed: 127.0.0.1 is a loopback address</small>" in page
    # A move queues it again: the admin may have fixed the connection since.
    services.reschedule(booking, tomorrow_at(12), by="admin")
    assert reload(copy).state == PENDING


def test_a_write_that_breaks_is_recorded_and_retried(radicale, make_calendar, make_host, make_link, monkeypatch):
    calendar = make_calendar(weekly=ALL_DAY)
    sam = make_host(calendars=[calendar])
    calendar_url = make_calendar_on(radicale)
    connect(sam, radicale, write_url=calendar_url)
    book_link(make_link(calendar=calendar)[0], tomorrow_at(10))

    def broken(*_args):
        raise KeyError("a bug")

    monkeypatch.setattr(calendar_copies.ics, "for_host_calendar", broken)
    assert write_all() == 1
    copy = reload(copies()[0])
    assert (copy.state, copy.attempts, copy.last_error) == (PENDING, 1, "an unexpected error (KeyError)")
    assert copy.locked_by is None
    assert radicale.events(calendar_url) == []
