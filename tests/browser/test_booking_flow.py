"""In a real browser: an invitee books with a one-time link, and the link then says it was used."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.helpers import bookings, pick_open_day, wait_for_zone


def booked_start(live_server):
    return [booking.start_at for booking in bookings(live_server)]


def test_book_with_a_one_time_link_then_see_it_used(browser, live_server, link_url):
    page = browser.new_page(timezone_id="Europe/Paris", locale="en-GB")  # British English: a 24-hour clock
    page.goto(link_url)
    expect(page.get_by_role("heading", name="Discovery call")).to_be_visible()
    wait_for_zone(page, "Europe/Paris")  # detected in the browser, and the picker reloaded in it
    expect(page.get_by_label("Your name")).to_have_value("Grace Hopper")

    # Pick a day after today in the month view (next month when today is the last open day), then its first time.
    chosen = pick_open_day(page)
    new_york_nine = datetime.combine(chosen, time(9), ZoneInfo("America/New_York"))
    first_slot = page.locator(".slot-list label.slot").first
    assert first_slot.inner_text().strip() == new_york_nine.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")
    first_slot.click()
    page.get_by_role("button", name="Confirm booking").click()

    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    paris = new_york_nine.astimezone(ZoneInfo("Europe/Paris"))
    expect(page.get_by_test_id("when")).to_contain_text(f"{paris:%H:%M}–{paris + timedelta(minutes=30):%H:%M}")
    assert booked_start(live_server) == [new_york_nine.astimezone(UTC)]

    # The browser that booked goes back to its confirmation; any other is told the link was used.
    page.goto(link_url)
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    other = browser.new_page(locale="en-GB")
    other.goto(link_url)
    expect(other.get_by_role("heading", name="This link has already been used")).to_be_visible()
    expect(other.get_by_role("button", name="Email me my booking again")).to_be_visible()


def test_booking_works_without_javascript(browser, live_server, link_url):
    context = browser.new_context(java_script_enabled=False, timezone_id="UTC")
    page = context.new_page()
    page.goto(link_url)
    # Without JavaScript the page shows the calendar's zone; a day link is a plain link.
    expect(page.get_by_label("Times are shown in")).to_have_value("America/New_York")
    last = page.locator(".month-grid a.day.open").last
    chosen = date.fromisoformat(last.get_attribute("href").split("date=")[1][:10])
    last.click()
    expect(page.locator(".month-grid a.day.selected")).to_have_count(1)
    first_time = page.locator(".slot-list input[name='start']").first.get_attribute("value")
    page.locator(".slot-list label.slot").first.click()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    # That day's first open time: on the month's last day it is today's next one, perhaps minutes away.
    [start] = booked_start(live_server)
    assert start.strftime("%Y-%m-%dT%H:%M:%SZ") == first_time and start > datetime.now(UTC)
    assert start.astimezone(ZoneInfo("America/New_York")).date() == chosen
    page.go_back()  # the back button after booking: the confirmation, not an error
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    context.close()
    other = browser.new_context(java_script_enabled=False).new_page()
    other.goto(link_url)
    expect(other.get_by_role("heading", name="This link has already been used")).to_be_visible()
