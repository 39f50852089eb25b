"""`make screenshots`: the main pages as PNGs in docs/screenshots/, for the README.

The app runs on a temporary SQLite database with the demo data (`flask db upgrade`, `flask seed-demo`),
plus a day off, a location and a confirmation message on the demo calendar, a few contacts, a draft
workflow and two one-time links; Playwright drives Debian's Chromium through it. Viewport screenshots
(not full pages) keep each PNG small. The invitee's emails (email-*.png) are the booking made on the
booking page, then moved and cancelled, rendered offline as a mail client shows them.
"""

import logging
import os
import secrets
import subprocess
import sys
import tempfile
import threading
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = secrets.token_urlsafe(12)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
EMAIL = {"width": 760, "height": 400}  # an email client's reading pane; the page grows to the email
LOCATION = "Video call (the link is in the invite)"
CONFIRMATION = "Thanks for booking! Have a look at our pricing page before we talk.\nAny questions? Just reply."
SENDER = "Sam Rivera <sam@example.com>"  # the organiser the emails name
CONTACTS = [
    ("Grace", "Hopper", "grace@example.com", ["customer", "vip"]),
    ("Ada", "Lovelace", "ada@example.com", ["book-me"]),
    ("Katherine", "Johnson", "katherine@example.com", ["lead"]),
    ("Margaret", "Hamilton", "margaret@example.com", ["customer"]),
]


def flask(*args: str) -> None:
    """Run a flask CLI command of the app, as an admin would."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, check=True)


def add_demo_extras(app) -> dict:
    """What seed-demo leaves out but the pages should show; returns the ids and link URLs needed."""
    from sqlalchemy import select

    from webapp import worker
    from webapp.auth.services import create_admin
    from webapp.booking import links
    from webapp.booking import services as booking_services
    from webapp.booking.models import OneTimeLink
    from webapp.calendars import services as calendar_services
    from webapp.calendars import services as calendars
    from webapp.contacts import services as contacts
    from webapp.contacts.models import Contact
    from webapp.extensions import db
    from webapp.workflows import demo, starters
    from webapp.workflows import services as workflows

    with app.app_context():
        create_admin("admin@example.com", PASSWORD)
        report = demo.seed()  # finds what `flask seed-demo` made
        calendar = report.calendar
        calendars.update_calendar(
            calendar,
            {"location": LOCATION, "confirmation_message": CONFIRMATION},
            overrides=[(date.today() + timedelta(days=12), None, None)],
        )
        for first, last, email, tags in CONTACTS:
            contacts.create_contact({"first_name": first, "last_name": last, "email": email}, tags)
        workflows.create_workflow("Follow up after a no-show", "tag_added", {"tag": "no-show"})
        # A published workflow with waits and a branch (template b), and a few contacts through it.
        nudge = starters.create_from(starters.get("2-link-nudge-and-reminder"), calendar.slug)
        workflows.publish(nudge)
        urls = [links.url(links.issue(calendar, report.contact)) for _ in range(2)]
        db.session.commit()
        for contact in db.session.scalars(select(Contact).where(Contact.email.like("%@example.%"))):
            contacts.add_tags(contact, ["book-me"])
        db.session.commit()
        worker.drain(app)
        # Some of those links opened and one booked: the dashboard's funnel has a shape.
        made = list(db.session.scalars(select(OneTimeLink).where(OneTimeLink.source == "workflow")))
        for link in made[:3]:
            links.mark_opened(link)  # as the booking page does, so the funnel counts the opening
        db.session.commit()
        soon = date.today() + timedelta(days=1)
        first = calendar_services.slots(calendar, soon, soon + timedelta(days=7), "Europe/London")[0]
        invitee = booking_services.Invitee(made[0].contact.name, made[0].contact.email, "Europe/London")
        booking_services.book(made[0], first.start, invitee)
        db.session.commit()
        return {"calendar": calendar.id, "workflow": report.workflow.id, "branching": nudge.id, "links": urls}


def serve(app) -> str:
    """The app on a real server in a thread; its base URL."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per PNG, not per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def shoot(page, name: str) -> None:
    path = OUT / f"{name}.png"
    page.mouse.move(0, 0)  # no hover effect where the last click was
    page.screenshot(path=str(path), animations="disabled")  # transitions at their end
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


def admin_pages(browser, base: str, ids: dict) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport=DESKTOP, timezone_id="Europe/London")
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    page.set_viewport_size({"width": 1280, "height": 1000})
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    shoot(page, "dashboard")

    page.set_viewport_size({"width": 1280, "height": 1060})
    page.goto(f"{base}/calendars/{ids['calendar']}")
    expect(page.get_by_role("heading", name="Demo call").first).to_be_visible()
    # The weekly hours and the day off (the open-slots preview beside them is taller than the window).
    page.get_by_role("heading", name="Weekly availability").evaluate(
        "el => { el.closest('fieldset').scrollIntoView(); window.scrollBy(0, -24); }"
    )
    shoot(page, "calendar-settings")
    page.goto(f"{base}/workflows/{ids['workflow']}")
    expect(page.get_by_role("heading", name="Send Email")).to_be_visible()
    shoot(page, "workflow-editor")
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.goto(f"{base}/workflows/{ids['branching']}")
    expect(page.get_by_role("heading", name="If/else").first).to_be_visible()
    decision = page.get_by_role("heading", name="If/else").first
    decision.evaluate("el => { el.scrollIntoView(); window.scrollBy(0, -24); }")
    shoot(page, "workflow-branches")
    page.set_viewport_size({"width": 1280, "height": 560})
    page.goto(f"{base}/workflows/")
    expect(page.get_by_role("link", name="Follow up after a no-show")).to_be_visible()
    shoot(page, "workflows")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{base}/contacts/")
    expect(page.get_by_text("grace@example.com")).to_be_visible()
    shoot(page, "contacts")
    page.close()


def choose_day(page, tap: bool = False) -> None:
    """Choose the second open day, and wait until the picker shows it (the first is chosen at first)."""
    from playwright.sync_api import expect

    day = page.locator(".month-grid a.day.open").nth(1)
    href = day.get_attribute("href")
    day.tap() if tap else day.click()
    expect(page.locator(".month-grid a.day.selected")).to_have_attribute("href", href)


def booking_pages(browser, base: str, ids: dict) -> None:
    from playwright.sync_api import expect

    desktop_url, phone_url = (url.replace("http://127.0.0.1:5000", base) for url in ids["links"])
    phone = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, timezone_id="Europe/London"
    ).new_page()
    phone.goto(phone_url)
    expect(phone.get_by_label("Times are shown in")).to_have_value("Europe/London")
    choose_day(phone, tap=True)
    shoot(phone, "booking-phone")

    page = browser.new_page(viewport=DESKTOP, timezone_id="Europe/London")
    page.goto(desktop_url)
    expect(page.get_by_label("Times are shown in")).to_have_value("Europe/London")
    choose_day(page)
    page.locator(".slot-list label.slot").nth(2).click()
    shoot(page, "booking-desktop")
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 720})
    shoot(page, "confirmation")


def email_pages(browser, app) -> None:
    """The booking made on the booking page: its confirmation, then moved and cancelled, each email
    rendered as Chromium shows it with the network refused (as tests/browser/test_emails.py does)."""
    from sqlalchemy import select

    from tests.browser.helpers import show_email
    from webapp.booking import services as booking_services
    from webapp.booking.models import Booking
    from webapp.calendars import services as calendar_services
    from webapp.extensions import db
    from webapp.mail.models import OutboxMessage
    from webapp.mail.sender import build_message

    with app.app_context():
        booking = db.session.scalars(select(Booking).order_by(Booking.id.desc())).first()
        day = booking.start_at.date() + timedelta(days=1)
        later = calendar_services.slots(booking.calendar, day, day + timedelta(days=14), booking.timezone)[3]
        booking_services.reschedule(booking, later.start)
        booking_services.cancel(booking, "Something came up at work, sorry for the short notice.", by="invitee")
        mine = (OutboxMessage.booking_id == booking.id, OutboxMessage.to_addr == booking.email)
        query = select(OutboxMessage).where(*mine)
        html = {message.kind: build_message(message).html for message in db.session.scalars(query)}
    shots = [
        ("booking_confirmed", "email-confirmed", EMAIL, "light"),
        ("booking_confirmed", "email-confirmed-phone", PHONE, "dark"),
        ("booking_rescheduled", "email-moved", EMAIL, "light"),
        ("booking_cancelled", "email-cancelled", EMAIL, "light"),
    ]
    for kind, name, viewport, scheme in shots:
        context = browser.new_context(viewport={**viewport, "height": 400}, color_scheme=scheme, device_scale_factor=1)
        page = context.new_page()
        assert show_email(page, html[kind]) == [], name
        path = OUT / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
        context.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            DATABASE_URL=f"sqlite:///{tmp}/oneslot.db",
            SECRET_KEY=secrets.token_hex(32),
            RATELIMIT_ENABLED="false",
            MAIL_SERVER="",
            MAIL_DEFAULT_SENDER=SENDER,
        )
        flask("db", "upgrade")
        flask("seed-demo")
        sys.path.insert(0, str(ROOT))
        from tests.browser.conftest import CHROMIUM_ARGS
        from webapp import create_app

        app = create_app()
        ids = add_demo_extras(app)
        base = serve(app)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            admin_pages(browser, base, ids)
            booking_pages(browser, base, ids)
            email_pages(browser, app)
            browser.close()


if __name__ == "__main__":
    main()
