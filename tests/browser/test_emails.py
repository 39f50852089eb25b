"""The invitee's emails rendered by Chromium, as a mail client would show them: nothing fetched, the
buttons there and readable at a desktop width, on a phone and in dark mode, no serious accessibility
finding. With SCREENSHOTS_DIR set, each is saved as a PNG to look at (`make screenshots` makes the
README's, scripts/screenshots.py)."""

from datetime import UTC, datetime

import pytest
import time_machine
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.browser.helpers import SHOTS, show_email
from tests.factories import ALL_WEEK, booking_lifecycle
from webapp.booking import links
from webapp.booking.services import Invitee, book
from webapp.extensions import db
from webapp.worker import drain

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
START, MOVED = datetime(2027, 3, 12, 14, 0, tzinfo=UTC), datetime(2027, 3, 15, 14, 0, tzinfo=UTC)
DESKTOP, PHONE = {"width": 900, "height": 900}, {"width": 390, "height": 844}
HEADINGS = {
    "confirmed": "You're booked",
    "moved": "Your booking has moved",
    "resent": "Your booking",
    "cancelled": "Your booking is cancelled",
    "link-used": "Your booking link was used",
}


@pytest.fixture
def emails(app, smtp_server, make_calendar, make_contact) -> dict[str, str]:
    """Every invitee email's HTML as received over SMTP: {name: html}."""
    smtp_server.configure(app)
    app.config["MAIL_DEFAULT_SENDER"] = "Sam Rivera <sam@example.com>"
    with time_machine.travel(NOW, tick=False):
        calendar = make_calendar(
            name="Discovery call",
            timezone="Europe/London",
            location="Room 4, 1 Main Street",
            confirmation_message="Please bring your ID.\nParking is behind the building.",
            allow_other_email=True,
            weekly=ALL_WEEK,
        )
        ada = make_contact(first_name="Ada", last_name="Lovelace", email="ada@example.com")
        booking_lifecycle(links.issue(calendar, ada), START, MOVED, reason="Something came up at work.")
        grace = make_contact(first_name="Grace", last_name="Hopper", email="grace@example.com")
        book(links.issue(calendar, grace), START, Invitee("Linus", "linus@example.org", "Europe/Berlin"))
        db.session.commit()
        drain(app)
    by_ada = [m for m in smtp_server.messages if m["To"] == "ada@example.com"]
    [used] = [m for m in smtp_server.messages if m["To"] == "grace@example.com"]
    names = ("confirmed", "moved", "resent", "cancelled", "link-used")
    return {name: m.get_body(("html",)).get_content() for name, m in zip(names, [*by_ada, used], strict=True)}


def screenshot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/email-{name}.png", full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_each_email_renders_offline_and_readable(browser, emails, scheme):
    for viewport, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
        context = browser.new_context(viewport=viewport, color_scheme=scheme)
        page = context.new_page()
        for name, html in emails.items():
            assert show_email(page, html) == [], name  # no image, font or stylesheet fetched
            expect(page.get_by_role("heading", level=1)).to_have_text(HEADINGS[name])
            card = page.locator("table.m-card")
            assert card.bounding_box()["width"] <= 600, name
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], name
            colours = card.evaluate(
                "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el.querySelector('h1')).color]"
            )
            assert colours == (
                ["rgb(26, 32, 40)", "rgb(233, 238, 244)"]
                if scheme == "dark"
                else ["rgb(255, 255, 255)", "rgb(23, 33, 43)"]
            ), name
            if name in ("confirmed", "moved", "resent"):
                for label in ("Add to Google Calendar", "Reschedule", "Cancel booking"):
                    expect(page.get_by_role("link", name=label)).to_be_visible()
            assert_accessible(page)
            screenshot(page, f"{name}{suffix}{'-dark' if scheme == 'dark' else ''}")
        context.close()
