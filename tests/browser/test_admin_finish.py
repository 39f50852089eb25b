"""In a real browser in New York: admin times read in the admin's zone (the browser's, taken at sign-in),
HTMX requests show that they are loading, Copy announces itself, and the home page's chart draws without a
CSP violation."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.factories import add_link, workflow_rows
from webapp.extensions import db


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "timezone_id": "America/New_York", "locale": "en-US"}


@pytest.fixture
def booked(live_server):
    """A calendar in Paris, a contact with an open link, and a booking on 1 December next year at 15:05 UTC."""
    with live_server.app.app_context():
        from webapp.booking import links
        from webapp.booking.models import Booking
        from webapp.calendars import services
        from webapp.contacts.services import create_contact

        calendar = services.create_calendar(
            {"name": "Intro call", "timezone": "Europe/Paris", "duration": 30},
            weekly={d: [(0, 1440)] for d in range(7)},
        )
        contact = create_contact({"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"})
        links.issue(calendar, contact)
        start = datetime(datetime.now(UTC).year + 1, 12, 1, 15, 5, tzinfo=UTC)
        db.session.add(
            Booking(
                calendar_id=calendar.id,
                contact_id=contact.id,
                start_at=start,
                end_at=start + timedelta(minutes=30),
                name=contact.name,
                email=contact.email,
            )
        )
        db.session.commit()
        ids = {"calendar": calendar.id, "year": start.year}
        db.session.remove()
    return ids


def test_a_booking_time_reads_in_the_admins_zone_taken_from_the_browser(admin_page, booked):
    page = admin_page
    page.goto(f"{page.base_url}/bookings/")
    # Signing in from a browser in New York gave the admin that zone; the page says so.
    expect(page.get_by_test_id("zone-note")).to_contain_text("Times in New York — United States")
    when = page.locator("table time").first
    # 15:05 UTC on 1 December is 10:05 in New York (EST), written by the server in the admin's zone.
    start = datetime(booked["year"], 12, 1, 10, 5)
    expect(when).to_have_text(f"{start:%a %d %b %Y}, 10:05 EST")
    expect(when).to_have_attribute("datetime", f"{booked['year']}-12-01T15:05:00Z")
    expect(when).not_to_have_attribute("data-localised", "")


def test_an_htmx_request_shows_the_progress_bar_and_disables_its_button(admin_page, booked):
    page = admin_page
    held = []
    page.route("**/links/new", lambda route: held.append(route))
    page.goto(f"{page.base_url}/links/calendar/{booked['calendar']}")
    page.get_by_label("Contact's email").fill("grace@example.com")
    button = page.get_by_role("button", name="Generate one-time link")
    button.click()
    expect(page.locator("html")).to_have_class("is-loading")
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("aria-busy", "true")
    expect(page.locator(".request-progress")).to_have_css("opacity", "1")
    page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("#new-link-url")).to_be_visible()
    expect(page.locator("html")).not_to_have_class("is-loading")
    expect(page.get_by_role("button", name="Generate one-time link")).to_be_enabled()


def test_copy_puts_the_link_on_the_clipboard_and_says_so(admin_page, booked, context):
    page = admin_page
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=page.base_url)
    page.goto(f"{page.base_url}/links/calendar/{booked['calendar']}")
    page.get_by_role("button", name="Copy link").first.click()
    expect(page.locator("#live-status")).to_have_text("Copied to the clipboard")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("input[id^='link-url-']").first.input_value()
    assert "/book/" in copied


def test_the_home_page_draws_its_chart(admin_page, live_server):
    page = admin_page
    with live_server.app.app_context():
        from webapp.calendars import services
        from webapp.clock import utcnow
        from webapp.contacts.services import create_contact

        calendar = services.create_calendar({"name": "Intro call", "timezone": "UTC", "duration": 30})
        contact = create_contact({"first_name": "Ada", "last_name": "L", "email": "ada@example.com"})
        workflow, _ = workflow_rows("Welcome")
        for opened in (True, True, False, False):
            add_link(calendar, contact, created_at=utcnow(), workflow=workflow, opened_at=utcnow() if opened else None)
        db.session.commit()
        db.session.remove()
    page.goto(f"{live_server}/")
    chart = page.get_by_role("img", name="One-time links, all workflows")
    expect(chart).to_be_visible()
    assert page.locator(".funnel-bar.funnel-opened").first.bounding_box()["width"] > 100
    expect(page.locator(".funnel-table tfoot")).to_contain_text("Total")
