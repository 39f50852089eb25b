"""The worker's `calendar_sync` source (due connections claimed with a lease, read, next read scheduled),
the refresher a booking calls before it commits, and a Radicale event leaving the booking page."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.calendar_files import FEED, FEED_BUSY, NOW, event
from tests.conftest import iso
from tests.factories import ALL_WEEK
from webapp import worker
from webapp.calendars import services as calendar_services
from webapp.extensions import db
from webapp.hosts import busy, connections, sync
from webapp.hosts.models import BusyBlock, Connection


def test_the_source_is_registered_and_the_refresher_too(app):
    assert worker.task_sources()["calendar_sync"] is sync.calendar_sync
    assert sync.refresh in busy._refreshers


def test_the_worker_reads_due_connections_once_then_every_few_minutes(app, host, feed_server, pinned_clock):
    feed_server.files["/f.ics"] = FEED.encode()
    connection = connections.add_ics(host, url=feed_server.url("/f.ics"))

    assert worker.drain(app) >= 1
    assert feed_server.requests == ["/f.ics"]  # read once: the next read is not due yet
    assert len(db.session.scalars(select(BusyBlock)).all()) == len(FEED_BUSY)
    assert sync.calendar_sync(10) == 0

    app.config["CALENDAR_SYNC_MINUTES"] = 15
    pinned_clock.shift(timedelta(minutes=6))
    assert sync.calendar_sync(10) == 1
    db.session.expire_all()
    row = db.session.get(Connection, connection.id)
    assert row.locked_until is None and row.locked_by is None
    assert timedelta(minutes=14) < row.next_sync_at - row.last_success_at <= timedelta(minutes=15)


def test_a_leased_connection_is_not_read_twice(app, host, feed_server):
    feed_server.files["/f.ics"] = FEED.encode()
    connection = connections.add_ics(host, url=feed_server.url("/f.ics"))
    connection.locked_until, connection.locked_by = NOW + timedelta(minutes=5), "another-worker"
    db.session.commit()

    assert sync.calendar_sync(10) == 0
    assert feed_server.requests == []


def test_the_refresher_reads_old_connections_before_a_booking(app, host, feed_server, pinned_clock):
    feed_server.files["/f.ics"] = FEED.encode()
    connections.add_ics(host, url=feed_server.url("/f.ics"))

    busy.refresh_if_older([host.id])
    assert feed_server.requests == ["/f.ics"]
    busy.refresh_if_older([host.id])  # read a moment ago: fresh enough
    assert feed_server.requests == ["/f.ics"]

    pinned_clock.shift(timedelta(minutes=2))
    busy.refresh_if_older([host.id])
    assert feed_server.requests == ["/f.ics", "/f.ics"]


def test_a_failing_refresh_never_stops_the_booking(app, host, feed_server, caplog):
    connection = connections.add_ics(host, url=feed_server.url("/gone.ics"))

    busy.refresh_if_older([host.id])  # no exception

    db.session.expire_all()
    row = db.session.get(Connection, connection.id)
    assert row.status == "error" and "HTTP 404" in row.error


def test_a_broken_refresher_is_logged_not_raised(app, host, monkeypatch, caplog, feed_server):
    connections.add_ics(host, url=feed_server.url("/f.ics"))

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(sync.claims, "take", broken)
    sync.refresh([host.id], timedelta(minutes=1))
    assert "refreshing connected calendars before a booking failed" in caplog.text


@pytest.fixture
def radicale_event(radicale):
    calendar = radicale.make_calendar("Agenda")
    radicale.put_event(calendar, event("dentist-booking-page", "20261005T150000Z", "20261005T160000Z", "Dentist"))
    return calendar


def test_a_radicale_event_is_the_hosts_busy_time_after_a_sync(app, make_calendar, make_host, radicale, radicale_event):
    calendar = make_calendar(weekly=ALL_WEEK)
    host = make_host(name="Sam")
    calendar_services.set_hosts(calendar, [host.id])
    db.session.commit()
    connection = connections.add_caldav(
        host, url=radicale.url, username=radicale.user, password=radicale.password, calendar_urls=[radicale_event]
    )
    day = (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC))
    assert busy.external([host.id], *day)[host.id] == [day]  # not read yet: "treat as busy"

    sync.sync_one(connection.id)

    assert busy.external([host.id], *day)[host.id] == [
        (datetime(2026, 10, 5, 15, tzinfo=UTC), datetime(2026, 10, 5, 16, tzinfo=UTC))
    ]


def test_a_radicale_event_leaves_the_booking_page_after_a_sync(
    app, client, hx, make_calendar, make_host, make_link, radicale, radicale_event
):
    calendar = make_calendar(weekly=ALL_WEEK)
    host = make_host(name="Sam")
    calendar_services.set_hosts(calendar, [host.id])
    db.session.commit()
    connection = connections.add_caldav(
        host, url=radicale.url, username=radicale.user, password=radicale.password, calendar_urls=[radicale_event]
    )
    sync.sync_one(connection.id)
    _, token = make_link(calendar=calendar)

    page = client.get(f"/book/{token}?date=2026-10-05&tz=UTC", headers=hx).text

    assert f'value="{iso(datetime(2026, 10, 5, 14, tzinfo=UTC))}"' in page
    assert f'value="{iso(datetime(2026, 10, 5, 15, tzinfo=UTC))}"' not in page
    assert f'value="{iso(datetime(2026, 10, 5, 15, 30, tzinfo=UTC))}"' not in page


def test_a_round_of_the_worker_reads_a_few_connections_so_mail_never_waits_long(app, host, feed_server):
    for n in range(sync.BATCH + 2):
        connections.add_ics(host, url=feed_server.url(f"/{n}.ics"))

    assert sync.calendar_sync(50) == sync.BATCH
    assert sync.calendar_sync(50) == 2
