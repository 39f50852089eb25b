"""Helpers for the browser tests: links, bookings and a workflow's calendar in the database, the month
view, the keyboard, screenshots."""

import os
import re
from datetime import date

from playwright.sync_api import expect
from sqlalchemy import select

from webapp.extensions import db

SHOTS = os.environ.get("SCREENSHOTS_DIR")


def issue_link(live_server, calendar_id: int, first_name: str = "Grace", email: str = "grace@example.com") -> str:
    """A one-time link on the calendar for a new contact; its URL on the live server."""
    from webapp.booking import links
    from webapp.calendars.models import Calendar
    from webapp.contacts.services import create_contact

    with live_server.app.app_context():
        contact = create_contact({"first_name": first_name, "last_name": "Hopper", "email": email})
        link = links.issue(db.session.get(Calendar, calendar_id), contact)
        db.session.commit()
        url = links.url(link).replace("http://127.0.0.1:5000", live_server)
        db.session.remove()
        return url


def bookings(live_server) -> list:
    """Every booking in the database, oldest first (detached: read their columns)."""
    from webapp.booking.models import Booking

    with live_server.app.app_context():
        rows = db.session.scalars(select(Booking).order_by(Booking.id)).all()
        db.session.expunge_all()
        return rows


def pick_open_day(page, minimum: int = 2):
    """Click an open day after the first (which may be today, part gone) in the month view, moving
    to next month when this one has fewer than `minimum` open days; returns the chosen date."""
    open_days = page.locator(".month-grid a.day.open")
    expect(open_days.first).to_be_visible()
    if open_days.count() < minimum:
        # The month shown is the viewer's, which need not be the test machine's (date.today()).
        shown = page.locator("#month-title").inner_text()
        page.get_by_label("Next month").click()
        expect(page.locator("#month-title")).not_to_have_text(shown)
        expect(open_days.first).to_be_visible()
    day = open_days.nth(1)
    href = day.get_attribute("href")
    day.click()
    expect(page.locator(".month-grid a.day.selected")).to_have_attribute("href", href)
    return date.fromisoformat(href.split("date=")[1][:10])


def wait_for_zone(page, zone: str) -> None:
    """Wait until the picker shows times in `zone` (app.js detects the browser's zone and reloads it)."""
    expect(page.get_by_label("Times are shown in")).to_have_value(zone)
    expect(page.locator("#picker input[name='timezone']")).to_have_value(zone)


def pick_first_time(page) -> None:
    """Choose the first open time once the picker has settled (app.js may reload it on opening, which
    would drop a choice made before), and wait until it shows as chosen."""
    page.wait_for_load_state("networkidle")
    page.locator(".slot-list label.slot").first.click()
    expect(page.locator(".slot-list input[type=radio]:checked")).to_have_count(1)


def choose_day(page, day: date) -> None:
    """Click `day` in the month view, moving on to its month first (a picker opens on the month of
    its first open day, perhaps today's), and wait until the picker shows its times."""
    title = page.locator("#month-title")
    for _ in range(12):
        shown = title.inner_text()
        if shown == f"{day:%B %Y}":
            break
        page.get_by_label("Next month").click()
        expect(title).not_to_have_text(shown)
    page.locator(f".month-grid a.day.open[href*='date={day.isoformat()}']").click()
    expect(page.locator(".month-grid a.day.selected")).to_have_attribute("href", re.compile(f"date={day.isoformat()}"))


def setup_calendar_and_contact(app):
    """An open-all-day UTC calendar "Onboarding" and the contact Grace Hopper, straight in the database."""
    with app.app_context():
        from webapp.calendars import services
        from webapp.contacts.services import create_contact

        services.create_calendar(
            {"name": "Onboarding", "timezone": "UTC", "duration": 30}, weekly={d: [(0, 1440)] for d in range(7)}
        )
        create_contact({"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"})
        db.session.remove()


def tab_to(page, name: str, limit: int = 200):
    """Press Tab until the focused element is the one named `name` (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if (
            page.evaluate(
                "document.activeElement.getAttribute('aria-label') || document.activeElement.textContent.trim()"
            )
            == name
        ):
            return
    raise AssertionError(f"{name!r} never got the focus")


def shot(page, name: str) -> None:
    """A full-page screenshot into SCREENSHOTS_DIR when it is set, to look at."""
    if SHOTS:
        # caret="initial": hiding the caret leaves style="" on inputs, which htmx's settle then trips the CSP on.
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True, caret="initial")


def show_email(page, html: str) -> list[str]:
    """Load an email's HTML into the page as a mail client shows it, refusing every network request;
    returns the URLs the email tried to fetch (none, for a well-made email)."""
    tried: list[str] = []

    def refuse(route):
        tried.append(route.request.url)
        route.abort()

    page.route("**/*", refuse)
    try:
        page.set_content(html, wait_until="load")
    finally:
        page.unroute("**/*")
    return tried
