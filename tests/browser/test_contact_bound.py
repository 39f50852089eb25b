"""In a real browser: a contact's link shows where the confirmation goes (masked) and books with that
address; a calendar that allows another email offers an optional field instead."""

import os
import re

from playwright.sync_api import expect

from tests.browser.helpers import bookings, pick_open_day, wait_for_zone
from webapp.extensions import db

# Set to a directory to keep the screenshots (e.g. to look at them while changing the page).
SHOTS = os.environ.get("BOOKING_SHOTS_DIR")


def shoot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def allow_other_email(live_server, calendar_id: int) -> None:
    from webapp.calendars.models import Calendar

    with live_server.app.app_context():
        db.session.get(Calendar, calendar_id).allow_other_email = True
        db.session.commit()
        db.session.remove()


def book_first_slot(page) -> None:
    wait_for_zone(page, "America/New_York")  # app.js reloads the picker in the browser's zone first
    pick_open_day(page)
    page.locator(".slot-list label.slot").first.click()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()


def test_a_contacts_link_shows_the_masked_email_and_books_with_it(browser, live_server, link_url):
    page = browser.new_page(timezone_id="America/New_York")
    page.goto(link_url)
    details = page.get_by_role("group", name="Your details")
    expect(details).to_contain_text("We'll send the confirmation to g***@e***.com")
    expect(page.get_by_label("Your name")).to_have_value("Grace Hopper")
    expect(page.get_by_label(re.compile("Email"))).to_have_count(0)
    assert "grace@example.com" not in page.content()
    shoot(page, "booking-bound")
    # A changed page (an email field added by hand) books with the contact's address all the same.
    page.evaluate(
        """() => document.querySelector('#book-form').insertAdjacentHTML(
            'beforeend', '<input type="hidden" name="email" value="attacker@evil.example">')"""
    )
    book_first_slot(page)
    [booking] = bookings(live_server)
    assert booking.email == "grace@example.com"


def test_when_the_calendar_allows_it_the_invitee_may_type_another_email(
    browser, live_server, new_york_calendar, link_url
):
    allow_other_email(live_server, new_york_calendar)
    page = browser.new_page(timezone_id="America/New_York")
    page.goto(link_url)
    email = page.get_by_label("Email (optional)")
    expect(email).to_have_value("")
    expect(page.locator("#email-help")).to_contain_text("the address this link was made for (g***@e***.com)")
    shoot(page, "booking-other-email")
    email.fill("colleague@example.org")
    book_first_slot(page)
    [booking] = bookings(live_server)
    assert booking.email == "colleague@example.org"
