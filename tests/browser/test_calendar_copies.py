"""The admin's booking page in Chromium says where the booking was copied: "Added to Sam Rivera's calendar"
once Radicale (real, on loopback) holds it, and why not for a host whose server the policy refuses."""

from datetime import UTC, datetime

import pytest
import time_machine
from playwright.sync_api import expect

from tests.browser.axe import describe, violations
from tests.browser.helpers import shot
from tests.radicale import radicale_server
from webapp import outbound
from webapp.extensions import db

MONDAY = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def browser_context_args(browser_context_args):
    """axe is injected (the CSP refuses injected scripts)."""
    return {**browser_context_args, "bypass_csp": True}


def _connection(host, url, username, password, write_url):
    from webapp.clock import utcnow
    from webapp.hosts.credentials import seal_password
    from webapp.hosts.models import CALDAV, Connection

    return Connection(
        host_id=host.id,
        kind=CALDAV,
        url=url,
        username=username,
        secret=seal_password(password),
        status="ok",
        write_url=write_url,
        last_success_at=utcnow(),
        stale_policy="ignore",
    )


def test_the_booking_page_names_the_hosts_calendars(live_server, admin_page, tmp_path):
    with time_machine.travel(MONDAY, tick=True), radicale_server(tmp_path) as server:
        url, username, password = server.url, server.user, server.password
        calendar_url = server.make_calendar("Work")
        with live_server.app.app_context():
            from webapp.booking import calendar_copies, links, services
            from webapp.calendars import services as calendars
            from webapp.contacts.services import create_contact
            from webapp.hosts.models import COLLECTIVE
            from webapp.hosts.services import create_host

            live_server.app.config["OUTBOUND_ALLOWED_NETWORKS"] = outbound.parse_networks("127.0.0.1/32")
            calendar = calendars.create_calendar(
                {"name": "Intro call", "timezone": "UTC", "duration": 30}, weekly={d: [(540, 1020)] for d in range(7)}
            )
            sam = create_host("Sam Rivera", "sam@example.com", "UTC")
            kim = create_host("Kim Lee", "kim@example.com", "UTC")
            calendars.set_hosts(calendar, [sam.id, kim.id], assignment=COLLECTIVE)
            db.session.add(_connection(sam, url, username, password, calendar_url))
            # Kim's server is on a private network nobody allowed: refused before any connection.
            db.session.add(_connection(kim, "http://10.9.9.9/", "kim", "pw", "http://10.9.9.9/kim/cal/"))
            contact = create_contact({"first_name": "Alex", "last_name": "Demo", "email": "alex@example.com"})
            link = links.issue(calendar, contact)
            db.session.commit()
            booking = services.book(
                link, datetime(2027, 3, 2, 10, 0, tzinfo=UTC), services.Invitee("Alex Demo", "", "America/New_York")
            )
            booking_id, uid = booking.id, booking.uid
            assert calendar_copies.write_due() == 2
            db.session.remove()
        assert [str(event["uid"]) for event in server.events(calendar_url)] == [uid]

    # Back on the real clock, which the admin signed in at (a 2027 request would find the session stale).
    page = admin_page
    page.goto(f"{live_server}/bookings/{booking_id}")
    expect(page.get_by_text("Added to Sam Rivera's calendar")).to_be_visible()
    expect(
        page.get_by_text("Couldn't add to Kim Lee's calendar: not allowed: 10.9.9.9 is a private address")
    ).to_be_visible()
    assert not (found := violations(page)), describe("booking page", found)
    shot(page, "admin-booking-calendar-copies")
