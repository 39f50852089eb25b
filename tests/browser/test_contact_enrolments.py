"""In a real browser: adding a tag on a contact's page that enrols them (a "tag added" workflow) refreshes
the page's enrolments card at once, without a reload."""

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.helpers import setup_calendar_and_contact, shot
from tests.factories import email_step, link_step, make_workflow
from webapp.calendars.models import Calendar
from webapp.contacts.models import Contact
from webapp.extensions import db


def test_a_tag_that_enrols_the_contact_shows_in_the_enrolments_card_at_once(admin_page, live_server):
    setup_calendar_and_contact(live_server.app)
    with live_server.app.app_context():
        calendar = db.session.scalar(select(Calendar))
        make_workflow("tag_added", {"tag": "vip"}, steps=[link_step(calendar), email_step()], name="VIP welcome")
        contact_id = db.session.scalar(select(Contact.id))
        db.session.remove()
    page = admin_page
    page.goto(f"{live_server}/contacts/{contact_id}")
    card = page.locator("#contact-enrolments")
    expect(card).to_contain_text("Not enrolled in any workflow yet.")
    page.locator("#tags input[name=names]").fill("vip")
    page.locator("#tags").get_by_role("button", name="Add").click()
    expect(page.locator("#tags")).to_contain_text("Added vip.")
    expect(card).to_contain_text("VIP welcome")
    expect(card).not_to_contain_text("Not enrolled")
    shot(page, "contact-enrolled-by-tag")
