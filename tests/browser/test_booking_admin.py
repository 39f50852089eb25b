"""The admin's booking page in Chromium: move with the slot picker (HTMX), cancel with a reason and a fresh
link, and the history that says who did it; no serious accessibility violation on either page."""

from datetime import UTC, datetime

import pytest
import time_machine
from playwright.sync_api import expect

from tests.browser.axe import describe, violations
from tests.browser.helpers import bookings, pick_first_time, pick_open_day, shot
from webapp.extensions import db

# Monday 1 March 2027, 08:00 UTC; the live server runs in this process and travels too (ticking).
MONDAY = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def browser_context_args(browser_context_args):
    """axe is injected (the CSP refuses injected scripts); the admin's browser is in London."""
    return {**browser_context_args, "bypass_csp": True, "timezone_id": "Europe/London"}


@pytest.fixture
def booking_id(live_server):
    with time_machine.travel(MONDAY, tick=True):
        with live_server.app.app_context():
            from webapp.auth.models import User
            from webapp.auth.services import rename
            from webapp.booking import links, services
            from webapp.calendars import services as calendars
            from webapp.contacts.services import create_contact

            rename(db.session.query(User).one(), "Sam Rivera")
            calendar = calendars.create_calendar(
                {"name": "Intro call", "timezone": "UTC", "duration": 30}, weekly={d: [(540, 1020)] for d in range(5)}
            )
            contact = create_contact({"first_name": "Alex", "last_name": "Demo", "email": "alex@example.com"})
            link = links.issue(calendar, contact)
            db.session.commit()
            booking = services.book(
                link, datetime(2027, 3, 2, 10, 0, tzinfo=UTC), services.Invitee("Alex Demo", "", "America/New_York")
            )
            booking_id = booking.id
            db.session.remove()
        yield booking_id


def test_move_then_cancel_from_the_booking_page(booking_id, admin_page, live_server):
    page = admin_page
    report = []
    page.goto(f"{live_server}/bookings/{booking_id}")
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    expect(page.get_by_text("Alex Demo (invitee)")).to_be_visible()
    if found := violations(page):
        report.append(describe("booking page", found))
    shot(page, "admin-booking-confirmed")

    page.get_by_role("button", name="Move…").click()
    expect(page.get_by_role("heading", name="Move Alex Demo's booking")).to_be_visible()
    page.get_by_role("link", name="Ignore the calendar's limits").click()
    expect(page.get_by_text("minimum notice, booking window")).to_be_visible()
    pick_open_day(page)
    pick_first_time(page)
    if found := violations(page):
        report.append(describe("move page", found))
    shot(page, "admin-booking-move")
    page.get_by_role("button", name="Move the booking").click()
    expect(page.get_by_text("booking has moved")).to_be_visible()
    expect(page.get_by_text("(calendar's limits ignored)")).to_be_visible()
    [moved] = bookings(live_server)
    assert moved.start_at != datetime(2027, 3, 2, 10, 0, tzinfo=UTC)

    page.get_by_label("Reason (optional, sent to the invitee)").fill("The room is flooded.")
    page.get_by_label("Send a fresh link, so they can book another time").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel booking").click()
    expect(page.get_by_text("with a fresh link to book again")).to_be_visible()
    expect(page.get_by_role("cell", name="Cancelled: “The room is flooded.” (a fresh link was sent)")).to_be_visible()
    shot(page, "admin-booking-cancelled")
    [cancelled] = bookings(live_server)
    assert cancelled.status == "cancelled" and cancelled.cancelled_by == "admin"
    assert not report, "\n".join(report)
