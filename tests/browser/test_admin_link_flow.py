"""In a real browser, the issue's whole story: the admin generates a link, the invitee books with it,
the confirmation is in Sent mail, and the link then says it was used."""

from playwright.sync_api import expect

from webapp import worker
from webapp.extensions import db


def test_generate_link_book_and_see_the_confirmation_in_sent_mail(admin_page, browser, live_server):
    page = admin_page
    with live_server.app.app_context():
        from webapp.calendars import services
        from webapp.contacts.services import create_contact

        calendar = services.create_calendar(
            {"name": "Onboarding", "timezone": "UTC", "duration": 30}, weekly={d: [(0, 1440)] for d in range(7)}
        )
        create_contact({"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"})
        calendar_id = calendar.id
        db.session.remove()

    page.goto(f"{live_server}/calendars/{calendar_id}")
    page.get_by_role("link", name="One-time links").click()
    page.get_by_label("Contact's email").fill("grace@example.com")
    page.get_by_role("button", name="Generate one-time link").click()
    url_box = page.locator("#new-link-url")
    expect(url_box).to_be_visible()
    link_url = url_box.input_value().replace("http://127.0.0.1:5000", live_server)
    expect(page.locator(".links-table .badge").first).to_have_text("active")

    invitee = browser.new_page(timezone_id="UTC")
    invitee.goto(link_url)
    invitee.locator(".slot-list label.slot").first.click()
    invitee.get_by_role("button", name="Confirm booking").click()
    expect(invitee.get_by_role("heading", name="You're booked")).to_be_visible()

    worker.drain(live_server.app)  # what the background worker does: no MAIL_SERVER, so mail is held
    page.get_by_role("link", name="Sent mail").click()
    confirmation = page.get_by_role("row").filter(has_text="grace@example.com")
    expect(confirmation).to_contain_text("Confirmed: Onboarding")
    expect(confirmation).to_contain_text("no mail server configured")
    page.goto(f"{live_server}/links/calendar/{calendar_id}")
    expect(page.locator(".links-table .badge").first).to_have_text("used")

    invitee.goto(link_url)  # the invitee's own browser: back to their booking
    expect(invitee.get_by_role("heading", name="You're booked")).to_be_visible()
    stranger = browser.new_page(timezone_id="UTC")
    stranger.goto(link_url)
    expect(stranger.get_by_role("heading", name="This link has already been used")).to_be_visible()
