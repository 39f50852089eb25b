"""In a real browser, the booking page's harder cases: two tabs racing for one link, an invitee in
another time zone, a phone, and changing or cancelling the booking through its manage link."""

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import bookings, choose_day, issue_link, pick_open_day, wait_for_zone

NEW_YORK = ZoneInfo("America/New_York")
BOOKED = "You're booked"
USED = "This link has already been used"


def test_two_tabs_submit_one_link_one_booking_wins(browser, live_server, link_url):
    context = browser.new_context(timezone_id="America/New_York")
    tabs = [context.new_page(), context.new_page()]
    for tab in tabs:
        tab.goto(link_url)
        wait_for_zone(tab, "America/New_York")
    pick_open_day(tabs[0])
    pick_open_day(tabs[1])
    tabs[0].locator(".slot-list label.slot").nth(0).click()
    tabs[1].locator(".slot-list label.slot").nth(1).click()  # another time: only the link can refuse

    # Both submit before either answer is read.
    for tab in tabs:
        tab.get_by_role("button", name="Confirm booking").click(no_wait_after=True)
    outcome = re.compile(f"^({BOOKED}|{USED})$")
    headings = [tab.get_by_role("heading", level=1, name=outcome) for tab in tabs]
    for heading in headings:
        expect(heading).to_be_visible()
    assert sorted(heading.inner_text() for heading in headings) == [USED, BOOKED]
    loser = tabs[[heading.inner_text() for heading in headings].index(USED)]
    expect(loser.get_by_role("button", name="Email me my booking again")).to_be_visible()
    assert len(bookings(live_server)) == 1
    context.close()


def test_an_invitee_in_tokyo_sees_tokyo_times_and_books_the_right_instant(browser, live_server, link_url):
    """Tokyo is 13–14 hours ahead: a New York day's 09:00–17:00 spans two Tokyo days."""
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")  # British English: a 24-hour clock
    page = context.new_page()
    page.goto(link_url)
    wait_for_zone(page, "Asia/Tokyo")
    expect(page.get_by_label("Times are shown in").locator("option:checked")).to_contain_text("Tokyo")

    chosen = pick_open_day(page, minimum=3)  # not the window's last day: that one lacks its evening
    # The Tokyo day's last times are New York's morning of the same date: 09:00 there is 22:00 or 23:00 here.
    new_york_nine = datetime.combine(chosen, time(9), NEW_YORK)
    tokyo_nine = new_york_nine.astimezone(ZoneInfo("Asia/Tokyo"))
    assert tokyo_nine.date() == chosen
    slot = page.locator(".slot-list label.slot").filter(has_text=re.compile(f"^{tokyo_nine:%H:%M}$"))
    expect(slot).to_have_count(1)
    expect(page.locator(".slot-list label.slot").first).to_have_text("00:00")  # the day before, in New York
    slot.click()
    page.get_by_role("button", name="Confirm booking").click()

    expect(page.get_by_role("heading", name=BOOKED)).to_be_visible()
    end = tokyo_nine + timedelta(minutes=30)
    expect(page.get_by_test_id("when")).to_contain_text(f"{tokyo_nine:%H:%M}–{end:%H:%M} (Tokyo — Japan)")
    [booking] = bookings(live_server)
    assert booking.start_at == new_york_nine.astimezone(UTC)
    assert booking.timezone == "Asia/Tokyo"
    context.close()


def no_horizontal_scroll(page) -> None:
    # Measured once the page's stylesheets are in (pico, app.css, the branding's theme): a layout read
    # while one is still loading is the unstyled page's.
    page.wait_for_load_state("load")
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    # The elements that reach past the viewport, to say which one when it fails.
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .slice(0, 5).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' +
                         Math.round(e.getBoundingClientRect().right))"""
    )
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: {widths[0]}px of content in {widths[1]}px: {wide}"


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}])
def test_a_phone_books_without_scrolling_sideways(browser, live_server, link_url, viewport):
    context = browser.new_context(viewport=viewport, is_mobile=True, has_touch=True, timezone_id="America/New_York")
    page = context.new_page()
    page.goto(link_url)
    wait_for_zone(page, "America/New_York")
    no_horizontal_scroll(page)

    day = page.locator(".month-grid a.day.open").last
    href = day.get_attribute("href")
    day.tap()
    expect(page.locator(".month-grid a.day.selected")).to_have_attribute("href", href)
    no_horizontal_scroll(page)
    page.get_by_label("Your name").fill("")
    page.locator(".slot-list label.slot").first.tap()
    page.get_by_role("button", name="Confirm booking").tap()
    expect(page.locator("#name-error")).to_be_visible()  # the form's error state, on a phone too
    no_horizontal_scroll(page)

    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_role("button", name="Confirm booking").tap()
    expect(page.get_by_role("heading", name=BOOKED)).to_be_visible()
    no_horizontal_scroll(page)
    assert len(bookings(live_server)) == 1
    context.close()
    context = browser.new_context(viewport=viewport, is_mobile=True, has_touch=True, timezone_id="America/New_York")
    page = context.new_page()  # another phone: the link was used
    page.goto(link_url)
    expect(page.get_by_role("heading", name=USED)).to_be_visible()
    no_horizontal_scroll(page)
    context.close()


def test_reschedule_then_cancel_through_the_manage_link(browser, live_server, new_york_calendar, link_url):
    context = browser.new_context(timezone_id="America/New_York", locale="en-GB")  # a 24-hour clock
    page = context.new_page()
    page.goto(link_url)
    wait_for_zone(page, "America/New_York")
    chosen = pick_open_day(page)
    page.locator(".slot-list label.slot").first.click()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name=BOOKED)).to_be_visible()
    manage_url = page.url
    first = datetime.combine(chosen, time(9), NEW_YORK)
    expect(page.get_by_test_id("when")).to_contain_text("09:00–09:30")

    # Move it to 10:30 the same day.
    page.get_by_role("button", name="Pick another time").click()
    expect(page.get_by_role("heading", name="Pick another time")).to_be_visible()
    choose_day(page, chosen)
    page.locator(".slot-list label.slot").filter(has_text=re.compile("^10:30$")).click()
    page.get_by_role("button", name="Move my booking").click()
    expect(page.locator(".flashes")).to_contain_text("Your booking has moved")
    assert page.url == manage_url
    expect(page.get_by_test_id("when")).to_contain_text("10:30–11:00")
    [booking] = bookings(live_server)
    assert booking.start_at == (first + timedelta(minutes=90)).astimezone(UTC)
    assert booking.rescheduled_at is not None

    # Someone else's link now offers 09:00 again, and not 10:30.
    other = context.new_page()
    other.goto(issue_link(live_server, new_york_calendar, "Ada", "ada@example.com"))
    wait_for_zone(other, "America/New_York")
    choose_day(other, chosen)
    times = other.locator(".slot-list label.slot")
    expect(times.first).to_have_text("09:00")
    expect(times.filter(has_text=re.compile("^10:30$"))).to_have_count(0)

    # Cancel it, with a reason.
    page.get_by_text("Cancel booking…").click()
    page.get_by_label("Reason").fill("Something came up")
    page.get_by_role("button", name="Yes, cancel this booking").click()
    expect(page.get_by_role("heading", name="Booking cancelled")).to_be_visible()
    [booking] = bookings(live_server)
    assert (booking.status, booking.cancel_reason, booking.cancelled_by) == (
        "cancelled",
        "Something came up",
        "invitee",
    )
    context.close()


def test_a_re_armed_link_offers_a_new_time_after_the_cancellation(browser, live_server, new_york_calendar):
    from webapp.calendars.models import Calendar
    from webapp.extensions import db

    with live_server.app.app_context():
        db.session.get_one(Calendar, new_york_calendar).rearm_on_cancel = True
        db.session.commit()
        db.session.remove()
    link_url = issue_link(live_server, new_york_calendar)
    context = browser.new_context(timezone_id="America/New_York")
    page = context.new_page()
    page.goto(link_url)
    wait_for_zone(page, "America/New_York")
    pick_open_day(page)
    page.locator(".slot-list label.slot").first.click()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name=BOOKED)).to_be_visible()
    page.get_by_text("Cancel booking…").click()
    page.get_by_role("button", name="Yes, cancel this booking").click()
    expect(page.get_by_role("heading", name="Booking cancelled")).to_be_visible()
    rebook = page.get_by_role("button", name="Pick a new time")
    expect(rebook).to_be_visible()
    # The page links to the link's own URL (BASE_URL's host; the test server has another port).
    assert rebook.get_attribute("href") == link_url.replace(live_server, "http://127.0.0.1:5000")
    page.goto(link_url)
    pick_open_day(page)
    page.locator(".slot-list label.slot").nth(1).click()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name=BOOKED)).to_be_visible()
    first, second = bookings(live_server)
    assert (first.status, second.status) == ("cancelled", "confirmed") and first.link_id == second.link_id
    context.close()
