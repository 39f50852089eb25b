"""axe-core on the pages people use most: no serious or critical violations; focus shows; and the
booking flow works with the keyboard alone."""

from datetime import date, timedelta

import pytest
import time_machine
from playwright.sync_api import expect

from tests.browser.axe import describe, violations
from tests.browser.helpers import bookings, pick_open_day, wait_for_zone
from tests.conftest import PINNED_DAYS
from webapp.extensions import db


@pytest.fixture
def browser_context_args(browser_context_args):
    """The admin page's context may inject axe (the CSP refuses injected scripts)."""
    return {**browser_context_args, "bypass_csp": True}


@pytest.fixture
def demo(live_server):
    """flask seed-demo's calendar (plus a day off), contact and workflow (Generate link + Send Email)."""
    from webapp.calendars import services
    from webapp.workflows import demo

    with live_server.app.app_context():
        report = demo.seed()
        calendar = report.calendar
        services.update_calendar(calendar, {}, overrides=[(date.today() + timedelta(days=10), None, None)])
        ids = {"calendar": calendar.id, "workflow": report.workflow.id}
        db.session.remove()
    return ids


def test_admin_pages(admin_page, live_server, demo):
    page = admin_page
    report = []
    for path, ready in [
        ("/calendars/", "Calendars"),
        (f"/calendars/{demo['calendar']}", "Demo call"),
        ("/hosts/", "Hosts"),
        ("/hosts/new", "Add host"),
        ("/hosts/me", "Working hours"),
        ("/contacts/", "Contacts"),
        ("/workflows/", "Workflows"),
        (f"/workflows/{demo['workflow']}", "Generate One-Time Booking Link"),
    ]:
        page.goto(f"{live_server}{path}")
        expect(page.get_by_role("heading", name=ready).first).to_be_visible()
        found = violations(page)
        if found:
            report.append(describe(path, found))
    assert not report, "\n".join(report)


@pytest.fixture(params=["mon-1st", "ny-fall-back"])
def day_1_to_9(request):
    """A day 1–9 of its month, when the grid shows "7" and a zero-padded name said "07" (axe:
    label-content-name-mismatch); the second is also New York's fall-back day. The live server runs in
    this process, so it travels too (ticking, as servers do); app.js reads no date from the browser."""
    with time_machine.travel(PINNED_DAYS[request.param], tick=True):
        yield


@pytest.mark.usefixtures("day_1_to_9")
def test_booking_pages(browser, live_server, link_url):
    context = browser.new_context(bypass_csp=True, timezone_id="America/New_York")
    page = context.new_page()
    report = []

    def check(label):
        found = violations(page)
        if found:
            report.append(describe(label, found))

    page.goto(link_url)
    wait_for_zone(page, "America/New_York")
    pick_open_day(page)
    check("booking page, a day's times shown")
    page.locator(".slot-list label.slot").first.click()
    page.get_by_label("Your name").fill("")
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.locator("#name-error")).to_be_visible()
    check("booking page, a field missing")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    check("confirmation and manage page")
    page.get_by_text("Cancel booking…").click()
    expect(page.get_by_label("Reason")).to_be_visible()
    check("manage page, cancel form open")
    context.close()
    context = browser.new_context(bypass_csp=True, timezone_id="America/New_York")  # another browser
    page = context.new_page()
    page.goto(link_url)
    expect(page.get_by_role("heading", name="This link has already been used")).to_be_visible()
    check("used link (410)")
    page.goto(link_url.rsplit("/", 1)[0] + "/no-such-link")
    expect(page.get_by_role("heading", name="This link doesn't work")).to_be_visible()
    check("unknown link (404)")
    context.close()
    assert not report, "\n".join(report)


# The element that shows the focus: a slot's radio button is hidden, its label shows it.
FOCUS_RING = """() => {
  const el = document.activeElement;
  const shown = el.matches('.slot-list input[type=radio]') ? el.nextElementSibling : el;
  const style = getComputedStyle(shown);
  return {what: el.outerHTML.slice(0, 80), style: style.outlineStyle, width: parseFloat(style.outlineWidth)};
}"""


def tab_to(page, target, limit: int = 80) -> None:
    """Press Tab until `target` has the focus, checking on the way that every stop shows its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        assert ring["style"] != "none" and ring["width"] >= 2, f"no visible focus on {ring['what']}"
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def test_book_with_the_keyboard_alone(browser, live_server, link_url):
    """Tab, Enter, Space and the arrow keys book a slot; every stop on the way shows its focus."""
    context = browser.new_context(timezone_id="America/New_York")
    page = context.new_page()
    page.goto(link_url)
    wait_for_zone(page, "America/New_York")

    day = page.locator(".month-grid a.day.open").last
    href = day.get_attribute("href")
    tab_to(page, day)
    page.keyboard.press("Enter")
    expect(page.locator(".month-grid a.day.selected")).to_have_attribute("href", href)

    first_time = page.locator(".slot-list input[type=radio]").first
    tab_to(page, first_time)
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")  # the radio group: the next time
    second_time = page.locator(".slot-list input[type=radio]").nth(1)
    expect(second_time).to_be_checked()
    expect(second_time).to_be_focused()
    chosen = second_time.get_attribute("value")

    notes = page.get_by_label("Anything we should know?")
    tab_to(page, notes)
    page.keyboard.type("By keyboard")
    tab_to(page, page.get_by_role("button", name="Confirm booking"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    [booking] = bookings(live_server)
    assert (f"{booking.start_at:%Y-%m-%dT%H:%M:%SZ}", booking.notes) == (chosen, "By keyboard")
    context.close()


def test_focus_shows_on_the_calendar_settings(admin_page, live_server, demo):
    page = admin_page
    page.goto(f"{live_server}/calendars/{demo['calendar']}")
    tab_to(page, page.get_by_role("button", name="Save").first, limit=250)
